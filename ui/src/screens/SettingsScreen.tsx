import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useNavigate } from "react-router";
import { api, asError } from "../api";
import { ErrorBanner } from "../components/ErrorBanner";
import { refreshAll, useSettings } from "../queries";

export function SettingsScreen() {
  const navigate = useNavigate();
  const settings = useSettings();
  const [newProfile, setNewProfile] = useState("");
  const [confirm, setConfirm] = useState("");
  const switchTo = useMutation({
    mutationFn: (profile: string) => api.switchProfile(profile),
    onSuccess: () => {
      setNewProfile("");
      void refreshAll();
      void navigate("/");
    },
  });
  const wipe = useMutation({
    mutationFn: () => api.deleteEverything(confirm),
    onSuccess: () => {
      setConfirm("");
      void refreshAll();
      void navigate("/welcome");
    },
  });
  const s = settings.data;
  return (
    <section>
      <h2>Settings</h2>
      {settings.error && <ErrorBanner error={asError(settings.error)} />}
      {s && (
        <>
          <div className="card">
            <h3>Profile</h3>
            <p className="muted">Each profile has its own key, tickets, holders and records: a caregiver may keep one per person.</p>
            <dl className="facts">
              <dt>This profile</dt>
              <dd data-testid="profile">{s.profile}</dd>
              <dt>Its data</dt>
              <dd>
                <code>{s.data_dir}</code>
              </dd>
              <dt>Secrets kept in</dt>
              <dd>
                {s.keyring.name}
                {!s.keyring.persistent && " (lost at reboot)"}
              </dd>
            </dl>
            {s.keyring.notice && <p className="notice">{s.keyring.notice}</p>}
            <div className="row">
              {s.profiles
                .filter((p) => p !== s.profile)
                .map((p) => (
                  <button key={p} type="button" onClick={() => switchTo.mutate(p)}>
                    Switch to {p}
                  </button>
                ))}
            </div>
            <form className="row" onSubmit={(e) => { e.preventDefault(); switchTo.mutate(newProfile); }}>
              <label htmlFor="new-profile">New profile</label>
              <input id="new-profile" value={newProfile} onChange={(e) => setNewProfile(e.target.value)} pattern="[A-Za-z0-9_-]{1,64}" />
              <button type="submit" disabled={!newProfile}>
                Create and switch
              </button>
            </form>
            {switchTo.error && <ErrorBanner error={asError(switchTo.error)} />}
          </div>
          <div className="card" data-testid="about">
            <h3>About Ticket Wallet</h3>
            <dl className="facts">
              <dt>Version</dt>
              <dd data-testid="version">{s.about.version}</dd>
              <dt>Logs</dt>
              <dd>
                {s.about.log_dir ? <code>{s.about.log_dir}</code> : "No log folder is known for this user"}
                <span className="muted"> (one file per profile and day, kept a week, with no secrets or health details)</span>
              </dd>
            </dl>
            <p>It speaks:</p>
            <ul>
              {s.about.specifications.map((spec) => (
                <li key={spec}>{spec}</li>
              ))}
            </ul>
            <p className="muted">Licensed under the Apache License 2.0; the licences of what it is built from come with it.</p>
          </div>
          <div className="card">
            <h3>For testers</h3>
            <p>
              <Link to="/trace" data-testid="settings-trace">The protocol trace</Link>: every request of the last sync and
              every answer, a lane per holder, saved as HAR or opened from a file.
            </p>
          </div>
          <div className="card danger-zone">
            <h3>Delete everything</h3>
            <p>
              Deletes this profile's records, holders, tickets and its key, from the keyring and from this device. It cannot be
              undone: holders will not recognise this wallet again, and tickets bound to its key cannot be used by any other.
            </p>
            <form className="row" onSubmit={(e) => { e.preventDefault(); wipe.mutate(); }}>
              <label htmlFor="confirm-delete">Type delete to confirm</label>
              <input id="confirm-delete" value={confirm} onChange={(e) => setConfirm(e.target.value)} data-testid="confirm-delete" autoComplete="off" />
              <button type="submit" className="danger" disabled={confirm.trim() !== "delete" || wipe.isPending} data-testid="delete-everything">
                Delete everything
              </button>
            </form>
            {wipe.error && <ErrorBanner error={asError(wipe.error)} />}
          </div>
        </>
      )}
    </section>
  );
}
