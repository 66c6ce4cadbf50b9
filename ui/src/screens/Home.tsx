// Where the app opens: a ticket link it was opened with, for confirmation;
// else the welcome on a fresh profile, and the record otherwise.
import { useQuery } from "@tanstack/react-query";
import { Navigate } from "react-router";
import { api, asError } from "../api";
import { ErrorBanner } from "../components/ErrorBanner";
import { KEYRING_CODES, KeyringProblem } from "../components/KeyringProblem";
import { useTickets } from "../queries";
import { WelcomeScreen } from "./WelcomeScreen";

export function Home() {
  const tickets = useTickets();
  // Taken once: the Rust side hands a link out only once.
  const link = useQuery({ queryKey: ["pending-link"], queryFn: api.takePendingLink, staleTime: Infinity, gcTime: Infinity });
  if (link.data) return <Navigate to="/add" replace state={{ link: link.data }} />;
  if (tickets.error) {
    const error = asError(tickets.error);
    return KEYRING_CODES.includes(error.code) ? <KeyringProblem error={error} /> : <ErrorBanner error={error} />;
  }
  // The welcome is drawn at once, so the first paint has content while the rest loads.
  if (link.isPending || !tickets.data || tickets.data.length === 0) return <WelcomeScreen />;
  return <Navigate to="/record" replace />;
}
