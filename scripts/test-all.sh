#!/usr/bin/env bash
# Runs every check and every test reverb has, installing what they need first.
# This is the README's test command and what CI runs (`.ci/run`); it works from a fresh
# clone on a fresh machine. Steps that are already satisfied are skipped quickly.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

# ---- installs -------------------------------------------------------------------------
step "toolchain: wasm32 target, rustfmt, clippy"
rustup target add wasm32-unknown-unknown >/dev/null
rustup component add rustfmt clippy >/dev/null 2>&1 || true

# Clients no one here wrote, for the interop tests: Chromium (the playground and
# WebSocket), openssl (s_client against tls://) and Python's ssl module, curl (http://
# and https://), and HAProxy, the load balancer reverb is proven behind (TCP mode with
# send-proxy-v2, HTTP mode, its health checks; tests/tests/e2e/proxy.rs). systemd-analyze,
# where systemd is installed, checks deploy/reverb.service (not installed for it: CI
# machines have none running).
APT=()
command -v chromium >/dev/null 2>&1 || APT+=(chromium)
command -v openssl >/dev/null 2>&1 || APT+=(openssl)
command -v python3 >/dev/null 2>&1 || APT+=(python3)
command -v curl >/dev/null 2>&1 || APT+=(curl)
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || APT+=(haproxy)
if [ ${#APT[@]} -gt 0 ]; then
  step "apt: ${APT[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${APT[@]}" >/dev/null
fi

# promtool, Prometheus's own checker of the metrics format, for the --admin endpoint's
# /metrics (tests/tests/e2e/admin.rs). Debian ships it in the `prometheus` package; its
# recommends (the node exporter and more) are not needed. The package may start a
# Prometheus service on port 9090: the tests never assume a fixed port is free.
if ! command -v promtool >/dev/null 2>&1; then
  step "apt: prometheus (for promtool)"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi

# Python's websockets package (11 or later, for its synchronous client): the WebSocket
# client of the ws:// and wss:// interop tests. Installed only when missing; a Debian
# python3 marks its packages as the system's, so pip is told it may add one there.
if ! python3 -c 'import websockets.sync.client' 2>/dev/null; then
  step "pip: websockets"
  python3 -m pip install --quiet --upgrade websockets 2>/dev/null \
    || python3 -m pip install --quiet --upgrade --break-system-packages websockets
fi

# PyYAML reads deploy/kubernetes.yaml (tests/tests/e2e/deploy.rs), in the python3 the
# tests run (on a machine with pyenv, not Debian's, so pip rather than python3-yaml).
if ! python3 -c 'import yaml' 2>/dev/null; then
  step "pip: pyyaml"
  python3 -m pip install --quiet pyyaml 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages pyyaml
fi

if [ -f package.json ]; then
  step "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

# ---- static checks --------------------------------------------------------------------
step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "cargo doc (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet

# deny.toml says which licenses, sources and crates are allowed, and why. Offline: it
# reads Cargo.lock and the crates fetched above. Installing cargo-deny the first time
# builds it from source (about 8 minutes on 2 cores); later runs skip it.
step "cargo deny: licenses, sources, banned crates"
if ! cargo deny --version >/dev/null 2>&1; then
  cargo install --locked --quiet cargo-deny
fi
cargo deny --offline check --hide-inclusion-graph bans licenses sources

# ---- the core stays pure --------------------------------------------------------------
step "reverb-core builds for wasm32-unknown-unknown"
cargo build --quiet -p reverb-core --target wasm32-unknown-unknown --release

# ---- Rust tests ---------------------------------------------------------------------
# The xtask first: building it after the tests would compile shared dependencies twice.
step "cargo build (xtask, binaries)"
cargo build --quiet --workspace --bins

# The container image's build step (deploy/Dockerfile), word for word, so what the image
# builds is what CI built; tests/tests/e2e/deploy.rs checks that the two lines match.
step "cargo build --release -p reverb (deploy/Dockerfile's build step)"
cargo build --release -p reverb

# The core's properties run 1024 cases each here (256 in a developer's quick run): about
# 10 s more on 2 cores, measured, for four times the search.
step "cargo test (properties at 1024 cases)"
PROPTEST_CASES=1024 cargo test --workspace

# ---- browser tests (last, so their summary closes the run) --------------------------
if [ -f package.json ]; then
  step "playground: build wasm, check its imports, run node tests"
  cargo xtask web
  node --test web/test/
fi
