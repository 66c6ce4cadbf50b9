# The README's two commands: `make run` and `make test`. Both install what is
# missing first (system packages, npm packages, tauri-driver), so they work on
# a fresh Debian or Ubuntu machine.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
CARGO ?= cargo
APP_FEATURES := --features custom-protocol
SYSTEM_PACKAGES := build-essential pkg-config libwebkit2gtk-4.1-dev libdbus-1-dev libssl-dev \
	xvfb xauth x11-utils webkit2gtk-driver dbus gnome-keyring keyutils imagemagick
MOBILE_TARGETS := aarch64-linux-android aarch64-apple-ios
# Crates that compile no C, so they can be checked for mobile targets without an NDK or Xcode.
PURE_CRATES := -p permission-ticket -p vault

.PHONY: help run dev test deps system-deps ui-deps driver-deps ui check test-rust test-ui bindings-drift mobile-check fuzz fuzz-smoke deny licenses bundle appimage bundle-test

help:
	@echo "make run   - set everything up and open the app"
	@echo "make test  - set everything up and run every test"
	@echo "make dev   - the app with the frontend hot-reloaded from Vite"
	@echo "make fuzz  - every fuzz target for FUZZ_SECONDS (default 60) each"

run: deps ui
	$(CARGO) run $(APP_FEATURES) --bin ticket-wallet

# Vite serves the frontend with hot reload; a debug build (no custom-protocol)
# loads it from devUrl in tauri.conf.json.
dev: deps
	npm --prefix ui run dev & vite=$$!; trap 'kill $$vite' EXIT; \
	  $(CARGO) run --bin ticket-wallet

test: deps ui check test-ui test-rust bindings-drift bundle-test fuzz-smoke

deps: system-deps ui-deps driver-deps

system-deps:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  $(SUDO) apt-get update -qq; \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@command -v node >/dev/null || { DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq nodejs npm; }
	@node -e 'const [a,b]=process.versions.node.split(".").map(Number); if (a<20||(a===20&&b<19)) { console.error("Node.js 20.19 or newer is needed, found "+process.versions.node); process.exit(1) }'

ui-deps:
	@if [ ! -d ui/node_modules ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then \
	  npm --prefix ui ci --no-audit --no-fund; fi

driver-deps:
	@command -v tauri-driver >/dev/null || [ -x "$${CARGO_HOME:-$$HOME/.cargo}/bin/tauri-driver" ] || \
	  $(CARGO) install tauri-driver --locked
	@command -v cargo-deny >/dev/null || [ -x "$${CARGO_HOME:-$$HOME/.cargo}/bin/cargo-deny" ] || \
	  $(CARGO) install cargo-deny --locked --version 0.20.2 --no-default-features
	@installed=$$(rustup target list --installed); for t in $(MOBILE_TARGETS); do \
	  grep -qx $$t <<<"$$installed" || rustup target add $$t; done

ui:
	npm --prefix ui run build

check:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets $(APP_FEATURES) -- -D warnings
	npm --prefix ui run typecheck
	npm --prefix ui run lint
	$(MAKE) mobile-check deny licenses

# Licences, duplicate versions and sources of every crate (deny.toml says why
# each allowed licence is allowed; advisories need a network this build lacks).
deny:
	$(CARGO) deny --log-level error check licenses bans sources

# THIRD-PARTY-LICENSES.md must list what Cargo.lock and ui/package-lock.json hold.
licenses:
	node scripts/third-party-licenses.mjs --check

mobile-check:
	@for t in $(MOBILE_TARGETS); do echo "cargo check --target $$t"; \
	  $(CARGO) check --quiet --target $$t $(PURE_CRATES); done

test-ui:
	npm --prefix ui test

# Inside a throwaway session: private HOME, D-Bus, unlocked gnome-keyring, Xvfb.
test-rust:
	scripts/session.sh $(CARGO) test --workspace $(APP_FEATURES)

# `cargo test` rewrites ui/src/bindings from the Rust types; they must match what is committed.
bindings-drift:
	@if [ -n "$$(git status --porcelain -- ui/src/bindings)" ]; then \
	  git status --short -- ui/src/bindings; \
	  echo "TypeScript bindings differ from the Rust types: commit ui/src/bindings"; exit 1; fi

# The release app and its .deb and .rpm, with the Tauri CLI from the frontend's
# dev dependencies (its npm build is a prebuilt binary: nothing to compile),
# building the app's package only (`tw` is not in the bundle).
# Packages land in $CARGO_TARGET_DIR (or target)/release/bundle/.
bundle: deps ui
	ui/node_modules/.bin/tauri build --bundles deb,rpm -- -p ticket-wallet

# An AppImage needs linuxdeploy and its plugins, which the Tauri CLI downloads
# from GitHub (not reachable from the machines this project is built on).
appimage: deps ui
	ui/node_modules/.bin/tauri build --bundles appimage -- -p ticket-wallet

# The .deb unpacked into a throwaway root: its app opens on the welcome, and
# its desktop entry handles ticket links.
bundle-test: bundle
	scripts/bundle-test.sh

# Coverage-guided fuzzing on the nightly toolchain (skipped where there is
# none); see scripts/fuzz.sh and docs/SECURITY.md.
fuzz:
	scripts/fuzz.sh

# A short run of every target, as part of `make test`.
fuzz-smoke:
	FUZZ_SECONDS=10 scripts/fuzz.sh

