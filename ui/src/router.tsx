// Every screen has an address, so back and forward work and the end-to-end
// suite can open any screen. Hash addresses: the app is served from one file.
// Only the first screen (Home and the welcome) is in the start-up bundle; every
// other screen's code is loaded when it is first opened, so the first paint
// waits on less script (docs/BENCHMARKS.md, "Launch").
import { createHashRouter, Navigate } from "react-router";
import { App } from "./App";
import { RouteError } from "./components/RouteError";
import { Home } from "./screens/Home";
import { WelcomeScreen } from "./screens/WelcomeScreen";

export const router = createHashRouter([
  {
    path: "/",
    element: <App />,
    children: [{ errorElement: <RouteError />, children: [
      { index: true, element: <Home /> },
      { path: "welcome", element: <WelcomeScreen /> },
      { path: "demo", lazy: async () => ({ Component: (await import("./screens/DemoScreen")).DemoScreen }) },
      { path: "tickets", lazy: async () => ({ Component: (await import("./screens/TicketRoutes")).TicketsRoute }) },
      { path: "tickets/:jti", lazy: async () => ({ Component: (await import("./screens/TicketRoutes")).TicketRoute }) },
      { path: "tickets/:jti/workbench", lazy: async () => ({ Component: (await import("./screens/WorkbenchScreen")).WorkbenchScreen }) },
      { path: "add", lazy: async () => ({ Component: (await import("./screens/TicketRoutes")).ImportRoute }) },
      { path: "key", lazy: async () => ({ Component: (await import("./screens/TicketRoutes")).KeyRoute }) },
      { path: "connect", lazy: async () => ({ Component: (await import("./screens/ConnectScreen")).ConnectScreen }) },
      { path: "holders", lazy: async () => ({ Component: (await import("./screens/HoldersScreen")).HoldersScreen }) },
      { path: "holders/check", lazy: async () => ({ Component: (await import("./screens/CheckScreen")).CheckScreen }) },
      { path: "sync", lazy: async () => ({ Component: (await import("./screens/SyncScreen")).SyncScreen }) },
      { path: "record", lazy: async () => ({ Component: (await import("./screens/RecordScreen")).RecordScreen }) },
      { path: "record/item/:id", lazy: async () => ({ Component: (await import("./screens/RecordItemScreen")).RecordItemScreen }) },
      // The charting library comes with the chart screen only.
      { path: "record/chart/:code", lazy: async () => ({ Component: (await import("./screens/ChartScreen")).default }) },
      { path: "export", lazy: async () => ({ Component: (await import("./screens/ExportScreen")).ExportScreen }) },
      { path: "trace", lazy: async () => ({ Component: (await import("./screens/TraceScreen")).TraceScreen }) },
      { path: "settings", lazy: async () => ({ Component: (await import("./screens/SettingsScreen")).SettingsScreen }) },
      { path: "*", element: <Navigate to="/" replace /> },
    ] }],
  },
]);
