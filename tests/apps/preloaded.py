"""An app whose import runs a parallel kernel call: with ``--preload`` the gunicorn
master imports it, so its thread pool exists before the workers are forked."""

from flask_rustpath import _native
from flask_rustpath.demo import create_app

MASTER_RESULT = _native.sum_of_primes(10**8)
assert MASTER_RESULT == 279_209_790_387_276

app = create_app()
