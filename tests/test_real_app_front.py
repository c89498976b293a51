"""The Rust front on a real app (#21): every reason a route is proxied at once, a
per-route opt-in to be answered natively although the app's hooks apply, and the
request-body limit, over the real front and real gunicorn on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from flask_rustpath.serving.front import parse_size

from . import servers

ROOT = Path(__file__).resolve().parent.parent
slow = pytest.mark.slow


def _plan_in_a_fresh_process(app: str) -> dict[str, dict[str, str]]:
    """The front's plan of ``app``, computed in a fresh interpreter: declaring the
    shop's API routes must not leak into the other tests' shop apps."""
    code = (
        "import json, sys\n"
        "from flask_rustpath.serving.front import native_plan\n"
        f"from {app.split(':')[0]} import create_app\n"
        "plan = native_plan(create_app({'TESTING': True}))\n"
        "print(json.dumps({'proxied': plan.proxied, 'skipping': plan.skipping}))\n"
    )
    with tempfile.TemporaryDirectory() as scratch:
        env = {**os.environ, "SHOP_DATABASE": str(Path(scratch) / "shop.sqlite")}
        done = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
            timeout=120, check=True,
        )  # fmt: skip
    plan: dict[str, dict[str, str]] = json.loads(done.stdout)
    return plan


def test_every_reason_a_route_is_proxied_is_listed_at_once() -> None:
    plan = _plan_in_a_fresh_process("tests.apps.shop_native:create_app")
    # A JSON route declared on a blueprint after init_app is one of the app's routes.
    longest = plan["proxied"]["words.longest_word"]
    for reason in (
        "before_request hook create_app.<locals>.count_request applies to it",
        "after_request hook LoginManager._update_remember_cookie applies to it",
        "exports no native entry point",
    ):
        assert reason in longest
    assert "count_request" in plan["proxied"]["api.api_sum_auto"]
    # native="always": not proxied for its hooks, and what it skips is said.
    assert "api.api_sum" not in plan["proxied"]
    assert "count_request" in plan["skipping"]["api.api_sum"]
    assert "_update_remember_cookie" in plan["skipping"]["api.api_sum"]


def test_native_must_be_auto_always_or_never() -> None:
    from flask_rustpath import RustPath

    with pytest.raises(ValueError, match="native must be one of auto, always, never"):
        RustPath().hot("/x/<int:n>", rust=abs, native="sometimes")(abs)  # type: ignore[arg-type]


def test_sizes_for_max_body() -> None:
    assert [parse_size(s) for s in ("1", "512KiB", "16MiB", "1GiB", " 7 B ")] == [
        1, 512 * 1024, 16 * 1024**2, 1024**3, 7,
    ]  # fmt: skip
    for bad in ("", "0", "1.5MiB", "16MB", "5GiB", "-1"):
        with pytest.raises(ValueError):
            parse_size(bad)


@slow
def test_native_always_answers_in_rust_despite_the_hooks_and_the_body_limit_is_set(
    tmp_path: Path,
) -> None:
    env = {"SHOP_DATABASE": str(tmp_path / "shop.sqlite")}
    with servers.front(
        "--max-body", "1KiB",
        app="tests.apps.shop_native:create_app()", workers=1, threads=2, env=env,
    ) as front:  # fmt: skip
        for prefix in ("", "/rust"):
            status, headers, body = servers.get(f"{front.base}{prefix}/api/sum/100")
            assert (status, json.loads(body)) == (200, {"result": 1060})
            assert headers["Server"] is None, "gunicorn answered: not native"
            status, headers, body = servers.get(f"{front.base}{prefix}/api/sum_auto/100")
            assert (status, json.loads(body)) == (200, {"result": 1060})
            assert "gunicorn" in (headers["Server"] or "")
        log = front.log_text()
        assert "api.api_sum is answered natively (native='always'), without what Flask" in log
        assert "api.api_sum_auto goes to gunicorn: before_request hook" in log
        # The body limit is the one given: 2 KiB is refused by the front, 512 B passes on.
        for size, refused in ((2048, True), (512, False)):
            items = json.dumps({"items": ["x" * (size // 2)]}).encode()
            status, _, body = servers.request(
                front.base, "/words/longest", data=items, method="POST",
                headers={"Content-Type": "application/json"},
            )  # fmt: skip
            assert (status == 413) is refused, (size, status, body[:200])
            if refused:
                assert json.loads(body)["error"] == "body_too_large"
