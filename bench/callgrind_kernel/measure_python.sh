#!/bin/sh
# Instructions per call of the Python door, by callgrind: `#[rustpath::kernel]`'s
# Python function against a hand-written #[pyfunction] (python_door/lib.rs), called
# from Python; (Ir with 20,000 calls - Ir with 10,000) / 10,000, collection on only
# around the calls (toggle.c, through ctypes). Builds a crate `cgdoor` into a scratch
# project with `flask rustpath new` and `build`, in the current Python environment.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cd "$scratch"
cc -O2 -shared -fPIC "$here/toggle.c" -o libtoggle.so
python -m flask_rustpath.crates.commands new cgdoor >/dev/null
cp "$here/python_door/lib.rs" rust/cgdoor/src/lib.rs
python -m flask_rustpath.crates.commands build cgdoor >/dev/null
for which in add add_hand longest longest_hand; do
  for calls in 10000 20000; do
    PYTHONHASHSEED=0 valgrind --tool=callgrind --collect-atstart=no \
      --callgrind-out-file="out.$which.$calls" \
      python "$here/python_door/door.py" "$which" "$calls" "$scratch/libtoggle.so" 2>/dev/null
  done
  low=$(awk '/^(summary|totals):/ {print $2; exit}' "out.$which.10000")
  high=$(awk '/^(summary|totals):/ {print $2; exit}' "out.$which.20000")
  echo "$which: $(( (high - low) / 10000 )) instructions per call"
done
python -m pip uninstall -y -q cgdoor
