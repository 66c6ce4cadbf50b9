#!/usr/bin/env bash
# Unpacks the newest .deb into a throwaway root, as installing it would lay it
# out, prints what it declares, and runs the end-to-end test of the installed
# app on it (inside scripts/session.sh: Xvfb, D-Bus, a keyring).
set -euo pipefail
cd "$(dirname "$0")/.."
bundles="${CARGO_TARGET_DIR:-target}/release/bundle"
deb=$(ls -t "$bundles"/deb/*.deb | head -1)
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
dpkg-deb -x "$deb" "$root"
echo "$deb: $(du -h "$deb" | cut -f1)"
dpkg-deb -f "$deb" Package Version Depends Recommends
TW_INSTALLED_ROOT="$root" scripts/session.sh "${CARGO:-cargo}" test --features custom-protocol \
  --test e2e the_installed_package -- --ignored
