// Typed calls into the Rust side. Every failure arrives as {code, message}.
import { invoke } from "@tauri-apps/api/core";
import type { ErrorPayload } from "./bindings/ErrorPayload";
import type { ImportResult } from "./bindings/ImportResult";
import type { KeyInfo } from "./bindings/KeyInfo";
import type { TicketSummary } from "./bindings/TicketSummary";
import type { TicketView } from "./bindings/TicketView";

export type ImportSource = "paste" | "file" | "link" | "demo";

export function isErrorPayload(e: unknown): e is ErrorPayload {
  return typeof e === "object" && e !== null && "code" in e && "message" in e;
}

/** Turns anything thrown by `invoke` into the `{code, message}` shape. */
export function asError(e: unknown): ErrorPayload {
  if (isErrorPayload(e)) return e;
  return { code: "unexpected", message: e instanceof Error ? e.message : String(e) };
}

export const api = {
  keyInfo: () => invoke<KeyInfo>("key_info"),
  listTickets: () => invoke<TicketSummary[]>("list_tickets"),
  inspectTicket: (text: string) => invoke<TicketView>("inspect_ticket", { text }),
  importTicket: (text: string, source: ImportSource) =>
    invoke<ImportResult>("import_ticket", { text, source }),
  getTicket: (jti: string) => invoke<TicketView>("get_ticket", { jti }),
  removeTicket: (jti: string) => invoke<null>("remove_ticket", { jti }),
  demoStatus: () => invoke<string | null>("demo_status"),
  demoTicket: (ticketType: string) => invoke<ImportResult>("demo_ticket", { ticketType }),
  takePendingLink: () => invoke<string | null>("take_pending_link"),
};

/** Emitted by the Rust side when a ticket link opens the running app. */
export const TICKET_LINK_EVENT = "ticket-link";
