// Shown instead of a screen that failed to draw, with a way back.
import { Link, useRouteError } from "react-router";

export function RouteError() {
  const error = useRouteError();
  const message = error instanceof Error ? error.message : String(error);
  return (
    <section className="card" role="alert" data-testid="screen-error">
      <h2>This screen could not be shown</h2>
      <p>{message}</p>
      <p>
        Nothing was lost: your tickets and records are kept. <Link to="/">Back to the start</Link>
      </p>
    </section>
  );
}
