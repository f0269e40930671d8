#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (FUZZ_SECONDS, 30 by default) from the corpus kept
# here; a crash, a timeout (a single input taking over 10 s) or a leak of memory past 2 GB fails.
# Findings land in tests/fuzz/artifacts/<target>/: turn each into a regression test.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${FUZZ_SECONDS:-30}"
# Built apart from the workspace's target directory: other flags, other artifacts.
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-/var/tmp/latch-fuzz-target}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
targets=$(cargo fuzz list --fuzz-dir .)
# No sanitizer: every Latch crate forbids unsafe code; coverage guidance is what finds bugs here.
cargo fuzz build --fuzz-dir . -s none
for target in $targets; do
  work=$(mktemp -d)
  cp -r "corpus/$target/." "$work/"
  echo "== fuzzing $target for ${seconds}s"
  log="$work.log"
  status=0
  cargo fuzz run --fuzz-dir . -s none "$target" "$work" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 >"$log" 2>&1 \
    || status=$?
  grep -E "^(stat::number_of_executed_units|SUMMARY|==[0-9]+==)|panicked|Test unit written" "$log" || true
  [ "$status" = 0 ] || tail -n 40 "$log"
  rm -f "$log"
  rm -rf "$work"
  if [ "$status" != 0 ]; then
    echo "fuzz target $target failed (exit $status); the input is under tests/fuzz/artifacts/$target/"
    exit 1
  fi
done
echo "fuzzing: every target ran ${seconds}s without a crash or a timeout"
