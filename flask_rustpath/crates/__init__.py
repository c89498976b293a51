"""Your own Rust crates beside the app: ``flask rustpath new`` and ``build``, the
freshness check at start-up, and rebuilding on import in debug mode."""
