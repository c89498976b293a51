#!/bin/sh
# Instructions per native call, by callgrind, for each kernel and glue:
# (Ir with 20,000 calls - Ir with 10,000 calls) / 10,000, collection on only around
# the calls. Needs valgrind (and its headers, for toggle.c) and cargo.
set -eu
cd "$(dirname "$0")"
export CARGO_TARGET_DIR=target
cargo build --release --quiet
for which in add-macro add-hand longest-macro longest-hand; do
  for calls in 10000 20000; do
    PYTHONHASHSEED=0 valgrind --tool=callgrind --collect-atstart=no \
      --callgrind-out-file="callgrind.out.$which.$calls" \
      target/release/kbench "$which" "$calls" 2>/dev/null
  done
  low=$(awk '/^(summary|totals):/ {print $2; exit}' "callgrind.out.$which.10000")
  high=$(awk '/^(summary|totals):/ {print $2; exit}' "callgrind.out.$which.20000")
  echo "$which: $(( (high - low) / 10000 )) instructions per call"
done
