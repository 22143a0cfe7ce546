#!/usr/bin/env bash
# Builds reverb and the reference servers, runs reverb bench against each (server pinned
# to CPU 0, load to CPU 1), and writes BENCHMARKS.md and bench/latency.svg.
# Takes about ten minutes on 2 cores; BENCH_SECS=2 for a quicker, noisier pass.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/out
command -v perf >/dev/null || { echo "bench: perf is needed (Debian: linux-perf)"; exit 1; }
command -v gcc >/dev/null || { echo "bench: gcc is needed"; exit 1; }
cargo build --release --quiet -p reverb
gcc -O2 -o bench/out/epoll_echo bench/servers/epoll_echo.c
cargo build --release --quiet --manifest-path bench/servers/tokio-echo/Cargo.toml \
  --target-dir target/bench-tokio
cp target/bench-tokio/release/tokio-echo bench/out/tokio-echo
python3 bench/run.py
echo "bench: wrote BENCHMARKS.md and bench/latency.svg"
