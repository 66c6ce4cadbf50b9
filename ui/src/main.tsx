import { QueryClientProvider } from "@tanstack/react-query";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { RouterProvider } from "react-router";
import { prefetchRecord, queryClient } from "./queries";
import { router } from "./router";
import "./styles.css";

// Where a profile with records opens (see Home): its record starts loading now.
if (["", "#/", "#/record"].includes(window.location.hash)) prefetchRecord();

const root = document.getElementById("root");
if (root) {
  createRoot(root).render(
    <StrictMode>
      <QueryClientProvider client={queryClient}>
        <RouterProvider router={router} />
      </QueryClientProvider>
    </StrictMode>,
  );
}
