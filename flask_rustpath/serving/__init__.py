"""Serving an app: the shipped gunicorn config, the gunicorn launcher used by
``flask rustpath bench``, bounded hey runs, and the Rust front (``flask rustpath serve``)."""
