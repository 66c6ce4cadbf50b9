// Every screen has an address, so back and forward work and the end-to-end
// suite can open any screen. Hash addresses: the app is served from one file.
import { lazy } from "react";
import { createHashRouter, Navigate } from "react-router";
import { App } from "./App";
import { RouteError } from "./components/RouteError";
import { ConnectScreen } from "./screens/ConnectScreen";
import { DemoScreen } from "./screens/DemoScreen";
import { ExportScreen } from "./screens/ExportScreen";
import { HoldersScreen } from "./screens/HoldersScreen";
import { Home } from "./screens/Home";
import { ImportRoute, KeyRoute, TicketRoute, TicketsRoute } from "./screens/TicketRoutes";
import { RecordItemScreen } from "./screens/RecordItemScreen";
import { RecordScreen } from "./screens/RecordScreen";
import { SettingsScreen } from "./screens/SettingsScreen";
import { SyncScreen } from "./screens/SyncScreen";
import { WelcomeScreen } from "./screens/WelcomeScreen";

// The charting library is loaded only when a chart is opened.
const ChartScreen = lazy(() => import("./screens/ChartScreen"));

export const router = createHashRouter([
  {
    path: "/",
    element: <App />,
    children: [{ errorElement: <RouteError />, children: [
      { index: true, element: <Home /> },
      { path: "welcome", element: <WelcomeScreen /> },
      { path: "demo", element: <DemoScreen /> },
      { path: "tickets", element: <TicketsRoute /> },
      { path: "tickets/:jti", element: <TicketRoute /> },
      { path: "add", element: <ImportRoute /> },
      { path: "key", element: <KeyRoute /> },
      { path: "connect", element: <ConnectScreen /> },
      { path: "holders", element: <HoldersScreen /> },
      { path: "sync", element: <SyncScreen /> },
      { path: "record", element: <RecordScreen /> },
      { path: "record/item/:id", element: <RecordItemScreen /> },
      { path: "record/chart/:code", element: <ChartScreen /> },
      { path: "export", element: <ExportScreen /> },
      { path: "settings", element: <SettingsScreen /> },
      { path: "*", element: <Navigate to="/" replace /> },
    ] }],
  },
]);
