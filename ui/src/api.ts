// Typed calls into the Rust side. Every failure arrives as {code, message}.
import { invoke } from "@tauri-apps/api/core";
import type { CategoryCount } from "./bindings/CategoryCount";
import type { CheckReport } from "./bindings/CheckReport";
import type { ErrorPayload } from "./bindings/ErrorPayload";
import type { HolderRecord } from "./bindings/HolderRecord";
import type { HolderView } from "./bindings/HolderView";
import type { ImportResult } from "./bindings/ImportResult";
import type { Item } from "./bindings/Item";
import type { KeyInfo } from "./bindings/KeyInfo";
import type { LatestValue } from "./bindings/LatestValue";
import type { OnboardReport } from "./bindings/OnboardReport";
import type { PersonRecords } from "./bindings/PersonRecords";
import type { RecordOpening } from "./bindings/RecordOpening";
import type { RecordDetail } from "./bindings/RecordDetail";
import type { SeriesPoint } from "./bindings/SeriesPoint";
import type { SettingsView } from "./bindings/SettingsView";
import type { SyncSnapshot } from "./bindings/SyncSnapshot";
import type { SyncState } from "./bindings/SyncState";
import type { TicketEntry } from "./bindings/TicketEntry";
import type { TicketSummary } from "./bindings/TicketSummary";
import type { TicketView } from "./bindings/TicketView";
import type { TraceView } from "./bindings/TraceView";

export type ImportSource = "paste" | "file" | "link" | "demo";
export type ExportKind = "merged" | "holder" | "summary";
export type TraceFormat = "har" | "trace";

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
  /** Every kept ticket judged now; `offline` skips the issuers (who each is for is still known). */
  ticketEntries: (offline: boolean) => invoke<TicketEntry[]>("ticket_entries", { offline }),
  inspectTicket: (text: string) => invoke<TicketView>("inspect_ticket", { text }),
  importTicket: (text: string, source: ImportSource) => invoke<ImportResult>("import_ticket", { text, source }),
  getTicket: (jti: string) => invoke<TicketView>("get_ticket", { jti }),
  removeTicket: (jti: string) => invoke<null>("remove_ticket", { jti }),
  takePendingLink: () => invoke<string | null>("take_pending_link"),

  demoStatus: () => invoke<string | null>("demo_status"),
  demoTicket: (ticketType: string) => invoke<ImportResult>("demo_ticket", { ticketType }),
  demoSetup: () => invoke<OnboardReport>("demo_setup"),

  listHolders: () => invoke<HolderView[]>("list_holders"),
  keptHolders: () => invoke<HolderRecord[]>("kept_holders"),
  addHolder: (fhirBase: string, name: string | null, clientId: string | null) =>
    invoke<HolderView>("add_holder", { fhirBase, name, clientId }),
  renameHolder: (fhirBase: string, name: string | null) => invoke<null>("rename_holder", { fhirBase, name }),
  removeHolder: (fhirBase: string) => invoke<null>("remove_holder", { fhirBase }),
  onboard: (issuer: string) => invoke<OnboardReport>("onboard", { issuer }),

  startSync: (holder: string | null, resume: boolean) => invoke<SyncSnapshot>("start_sync", { holder, resume }),
  cancelSync: () => invoke<boolean>("cancel_sync"),
  syncState: () => invoke<SyncState>("sync_state"),

  people: () => invoke<PersonRecords[]>("people"),
  recordOpening: (limit: number) => invoke<RecordOpening>("record_opening", { limit }),
  categories: (person: number | null) => invoke<CategoryCount[]>("categories", { person }),
  timeline: (person: number | null, category: string | null, before: string | null, limit: number) =>
    invoke<Item[]>("timeline", { person, category, before, limit }),
  search: (text: string, person: number | null, limit: number) =>
    invoke<Item[]>("search_records", { text, person, limit }),
  latestValues: (category: string, person: number | null) => invoke<LatestValue[]>("latest_values", { category, person }),
  series: (code: string, person: number | null) => invoke<SeriesPoint[]>("series", { code, person }),
  recordDetail: (id: number) => invoke<RecordDetail>("record_detail", { id }),

  exportRecords: (kind: ExportKind, person: number | null, holder: string | null) =>
    invoke<string | null>("export_records", { kind, person, holder }),
  openLastExport: () => invoke<null>("open_last_export"),

  lastTrace: () => invoke<TraceView>("last_trace"),
  saveTrace: (format: TraceFormat) => invoke<string | null>("save_trace", { format }),
  openTrace: () => invoke<TraceView | null>("open_trace"),

  checkHolder: (fhirBase: string, issuerKey: string | null) => invoke<CheckReport>("check_holder", { fhirBase, issuerKey }),
  saveCheckReport: () => invoke<string | null>("save_check_report"),
  makeTestTicket: (jti: string, claims: string, issuerKey: string | null) =>
    invoke<TicketSummary>("make_test_ticket", { jti, claims, issuerKey }),

  settings: () => invoke<SettingsView>("settings"),
  switchProfile: (profile: string) => invoke<null>("switch_profile", { profile }),
  deleteEverything: (confirm: string) => invoke<null>("delete_everything", { confirm }),
  openWalletAgain: (kernelKeyring: boolean) => invoke<null>("open_wallet_again", { kernelKeyring }),
};

/** Emitted by the Rust side when a ticket link opens the running app. */
export const TICKET_LINK_EVENT = "ticket-link";
/** Emitted with a SyncSnapshot while a sync runs. */
export const SYNC_EVENT = "sync-progress";
