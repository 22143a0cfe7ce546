#!/usr/bin/env bash
# Runs every cargo-fuzz target of reverb-core (fuzz/fuzz_targets/) for SECONDS each.
#
#   bash scripts/fuzz.sh            # 60 s per target
#   bash scripts/fuzz.sh 600        # ten minutes per target
#
# Needs the nightly toolchain (libFuzzer's instrumentation) and cargo-fuzz; cargo-fuzz is
# installed with `cargo install cargo-fuzz` when missing. Each target's corpus grows in
# fuzz/corpus/TARGET across runs; a crash is saved in fuzz/artifacts/TARGET/ and the
# script goes on to the next target, then exits 1. Reproduce or minimise a crash with
#   cd fuzz && cargo +nightly fuzz run TARGET artifacts/TARGET/crash-…
#   cd fuzz && cargo +nightly fuzz tmin TARGET artifacts/TARGET/crash-…
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds="${1:-60}"
case "$seconds" in
  '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "error: cargo-fuzz needs the nightly toolchain (rustup toolchain install nightly)" >&2
  exit 1
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "==> cargo install cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

failed=()
for target in $(cargo +nightly fuzz list); do
  echo "==> fuzz $target for ${seconds}s"
  mkdir -p "corpus/$target"
  # -timeout: one input taking 10 s is a hang (every drive loop in the targets is
  # bounded far below that); -rss_limit_mb: the core's bounds keep a case small.
  if ! cargo +nightly fuzz run "$target" "corpus/$target" -- \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1; then
    failed+=("$target")
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: crashes in ${failed[*]} (see fuzz/artifacts/)" >&2
  exit 1
fi
echo "fuzz: no crash in ${seconds}s per target"
