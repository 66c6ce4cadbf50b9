import type { ErrorPayload } from "../bindings/ErrorPayload";

export function ErrorBanner({ error }: { error: ErrorPayload }) {
  return (
    <div className="error" role="alert" data-testid="error" data-code={error.code}>
      {error.message}
    </div>
  );
}
