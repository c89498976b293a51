"""Helpers below the core: fork-safe locks, a bounded executor, rate-limited logs,
metrics, Rust import targets and URL-rule parsing. They know nothing of kernels'
policy or of Flask."""
