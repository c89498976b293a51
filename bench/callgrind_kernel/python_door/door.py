"""Instructions per Python-door call, collection toggled only around the loop."""

import ctypes
import sys

import cgdoor  # the crate measure_python.sh builds

toggle = ctypes.CDLL(sys.argv[3]).kbench_toggle
which, calls = sys.argv[1], int(sys.argv[2])  # door.py WHICH CALLS LIBTOGGLE
function = getattr(cgdoor, which)
args = (20, 22) if which.startswith("add") else ([f"word{'x' * (i % 7)}" for i in range(20)], 8)
for _ in range(2000):  # warm up
    function(*args)
toggle()
for _ in range(calls):
    function(*args)
toggle()
