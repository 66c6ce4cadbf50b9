import { Link } from "react-router";

export function WelcomeScreen() {
  return (
    <section className="welcome" data-testid="welcome">
      <h2>Your health records, gathered with your Permission Tickets</h2>
      <p className="lead">
        A Permission Ticket says which of your records a hospital, clinic or lab may share with this wallet. The wallet
        presents it to each of them, downloads what they share, and shows it all as one record, kept encrypted on this
        device.
      </p>
      <div className="choices">
        <div className="card choice">
          <h3>Try it with demo data</h3>
          <p className="muted">
            A built-in demo issuer writes a ticket for a made-up patient, three demo hospitals share their records, and
            you see them merged. One of them asks you to confirm which patient is you, as real ones may.
          </p>
          <Link className="button primary" to="/demo" data-testid="start-demo">
            Try it with demo data
          </Link>
        </div>
        <div className="card choice">
          <h3>I have a ticket, or my issuer gave me a link</h3>
          <p className="muted">Paste the ticket or open the link or file you were given, or sign in at your issuer.</p>
          <div className="row">
            <Link className="button primary" to="/add" data-testid="have-ticket">
              Add a ticket
            </Link>
            <Link className="button" to="/connect">
              Connect to an issuer
            </Link>
          </div>
        </div>
      </div>
    </section>
  );
}
