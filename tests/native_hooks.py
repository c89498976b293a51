"""Tests that need the ``test-hooks`` build of ``_native`` (``_native._panic``).

The shipped wheel is built without that cargo feature. A developer's build without it
skips these tests; under ``CI`` (set to a truthy value) they run and fail instead, so a
wrong CI build cannot pass silently.
"""

from __future__ import annotations

import pytest

from flask_rustpath import _native

from .support import in_ci

requires_panic_hook = pytest.mark.skipif(
    not hasattr(_native, "_panic") and not in_ci(),
    reason="_native was built without the test-hooks cargo feature (see README's test command)",
)
