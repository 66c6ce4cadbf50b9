import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// Tauri serves the built files; in dev it loads this server on a fixed port.
export default defineConfig({
  plugins: [react()],
  clearScreen: false,
  server: { port: 1420, strictPort: true },
  build: { target: "es2022", outDir: "dist", emptyOutDir: true, sourcemap: false },
});
