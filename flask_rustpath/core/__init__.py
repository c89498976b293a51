"""The framework-free core: what a kernel is, and the policy every call follows.

Side choice, limits, admission, the deadline, timing and error mapping live here, with
the per-app runtime that holds them. Nothing here reads Flask's request or app
globals: the Flask face (the modules one level up) finds the runtime and the record
for a call and hands them in, as Flask's own ``sansio`` package is kept apart from the
request globals. The request path, calls outside a request and the tools all go
through the same code.
"""
