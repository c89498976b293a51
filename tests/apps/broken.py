"""An app whose one hot route has a Rust side that always fails (HTTP 500)."""

from flask import Flask

from flask_rustpath import RustPath


def always_fails(x: int) -> int:
    raise RuntimeError("broken on purpose")


app = Flask(__name__)
app.config["RUSTPATH_BUILTINS"] = False
rustpath = RustPath(app)


@rustpath.hot("/twice/<int:x>", rust=always_fails, examples=[{"x": 21}])
def twice(x: int) -> int:
    return 2 * x
