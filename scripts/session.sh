#!/usr/bin/env bash
# Runs a command inside a throwaway desktop session: a private HOME, its own
# D-Bus session bus, an unlocked gnome-keyring (the Secret Service), and an X
# display (Xvfb) unless one is given. Nothing touches the user's real keyring.
#
#   scripts/session.sh <command> [args...]
set -euo pipefail

if [ "${TW_IN_SESSION:-}" != 1 ]; then
  session_home=$(mktemp -d "${TMPDIR:-/tmp}/tw-session.XXXXXX")
  trap 'rm -rf "$session_home"' EXIT
  # Keep the toolchains the caller already has.
  export CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}" RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"
  export HOME="$session_home" XDG_DATA_HOME="$session_home/.local/share" \
    XDG_CONFIG_HOME="$session_home/.config" XDG_CACHE_HOME="$session_home/.cache" \
    XDG_RUNTIME_DIR="$session_home/run" TW_IN_SESSION=1
  mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
  status=0
  dbus-run-session -- "$0" "$@" || status=$?
  exit $status
fi

# Inside the bus: start and unlock the keyring with a throwaway password.
eval "$(printf 'tw-session' | gnome-keyring-daemon --unlock --components=secrets)"
export GNOME_KEYRING_CONTROL

if [ -z "${DISPLAY:-}" ] && command -v Xvfb >/dev/null; then
  for n in $(seq 90 130); do
    [ -e "/tmp/.X11-unix/X$n" ] || [ -e "/tmp/.X$n-lock" ] || { display=":$n"; break; }
  done
  Xvfb "$display" -screen 0 1280x900x24 -nolisten tcp >/dev/null 2>&1 &
  xvfb_pid=$!
  trap 'kill $xvfb_pid 2>/dev/null || true' EXIT
  export DISPLAY="$display"
  for _ in $(seq 50); do [ -e "/tmp/.X11-unix/X${display#:}" ] && break; sleep 0.1; done
fi

"$@"
