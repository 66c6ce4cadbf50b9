// The ticket screens that came first, given addresses.
import { useQueryClient } from "@tanstack/react-query";
import { useLocation, useNavigate, useParams } from "react-router";
import { ImportScreen } from "../components/ImportScreen";
import { KeyScreen } from "../components/KeyScreen";
import { TicketList } from "../components/TicketList";
import { TicketScreen } from "../components/TicketScreen";
import { keys, useKey } from "../queries";

export function TicketsRoute() {
  const navigate = useNavigate();
  return <TicketList onOpen={(jti) => void navigate(`/tickets/${jti}`)} onAdd={() => void navigate("/add")} />;
}

export function TicketRoute() {
  const { jti = "" } = useParams();
  const navigate = useNavigate();
  const client = useQueryClient();
  return (
    <TicketScreen
      jti={jti}
      onRemoved={() => {
        void client.invalidateQueries({ queryKey: keys.tickets });
        void navigate("/tickets");
      }}
    />
  );
}

export function ImportRoute() {
  const navigate = useNavigate();
  const client = useQueryClient();
  const link = (useLocation().state as { link?: string } | null)?.link ?? "";
  return (
    <ImportScreen
      key={link}
      initialText={link}
      onSaved={(jti) => {
        void client.invalidateQueries({ queryKey: keys.tickets });
        void navigate(`/tickets/${jti}`);
      }}
    />
  );
}

export function KeyRoute() {
  const key = useKey();
  return <KeyScreen info={key.data ?? null} />;
}
