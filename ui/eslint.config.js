import js from "@eslint/js";
import globals from "globals";
import reactHooks from "eslint-plugin-react-hooks";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist", "src/bindings"] },
  {
    extends: [js.configs.recommended, ...tseslint.configs.strict],
    files: ["**/*.{ts,tsx}"],
    languageOptions: { ecmaVersion: 2022, globals: globals.browser },
    plugins: { "react-hooks": reactHooks },
    rules: {
      ...reactHooks.configs.recommended.rules,
      // The webview's CSP forbids inline HTML; the one SVG we inject is generated in Rust.
      "no-restricted-syntax": ["error", { selector: "JSXAttribute[name.name='style']", message: "inline styles are blocked by the CSP; use a class" }],
    },
  },
);
