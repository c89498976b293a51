"""``flask rustpath check`` finds the text disagreements of a real app (#21, item 3).

The shop's words blueprint (``tests.apps.shop_words``, imported after ``init_app``)
has the two bugs that shadow mode caught on a real app's first production page while
``check`` passed 3,000 generated inputs: a Rust twin counting ``char::is_alphanumeric``
(Hindi vowel signs are alphabetic) against Python's ``str.isalnum`` (they are not),
and one taking only ASCII digits for a number word. ``check`` must now find both, and
``check --from-shadow`` must replay what shadow mode recorded.
"""

from __future__ import annotations

import json
import multiprocessing
import re
import time
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from flask import Flask

from flask_rustpath.core.mismatches import MAX_LINE_BYTES, MismatchRecord, read_record
from flask_rustpath.core.parity import corpus_inputs
from flask_rustpath.core.texts import CATEGORIES, corpus, digit_run, text_strategy
from tests.apps import shop, shop_words
from tests.apps.shop_words import PYTHON_TEXT_LIMIT, RUST_ALPHANUMERIC

hypothesis = pytest.importorskip("hypothesis")
# A property of the strategy: found within a few hundred draws, as with `check --examples`.
FIND = hypothesis.settings(derandomize=True, database=None, max_examples=300)


@pytest.fixture
def app(shop_app: Flask) -> Flask:
    return shop_app


def run(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(args=["rustpath", *args])


def failing_text(output: str, kernel: str) -> str:
    """The text of the input ``check`` reports for ``kernel``."""
    found = re.search(rf"FAIL  {kernel}: python and rust disagree on (\{{.*?\}}): python", output)
    assert found is not None, output
    value: dict[str, str] = eval(found.group(1))  # the repr check printed
    return value["text"]


def rust_differs(c: str) -> bool:
    return c.isalnum() != bool(RUST_ALPHANUMERIC.match(c))


# -- the two bugs of the issue -------------------------------------------------------------


def test_check_finds_the_hindi_vowel_sign_disagreement(app: Flask) -> None:
    result = run(app, "check", "text_letters")
    assert result.exit_code == 1, result.output
    text = failing_text(result.output, "text_letters")
    assert any(rust_differs(c) for c in text), text
    # and the reference and twin agree on ASCII, so the example passes: it is the text
    assert "a few words" not in result.output


def test_check_finds_the_all_digit_word_bug(app: Flask) -> None:
    result = run(app, "check", "word_kinds")
    assert result.exit_code == 1, result.output
    text = failing_text(result.output, "word_kinds")
    numbers = [w for w in text.split() if w.isdecimal() and not w.isascii()]
    assert numbers, text


def test_a_kernel_without_those_bugs_passes_the_same_inputs(app: Flask) -> None:
    result = run(app, "check", "word_total")
    assert result.exit_code == 0, result.output
    assert re.fullmatch(r"ok    word_total: (\d+) inputs agree\n", result.output)


@pytest.mark.parametrize(
    ("what", "predicate"),
    [
        ("a Devanagari vowel sign", lambda text: any("\u093e" <= c <= "\u094c" for c in text)),
        ("a character Rust and Python class differently", lambda t: any(map(rust_differs, t))),
        (
            "a word of another script's digits",
            lambda text: any(w.isdecimal() and not w.isascii() for w in text.split()),
        ),
        ("a length-changing case mapping", lambda text: len(text.upper()) != len(text)),
        ("a Greek final sigma", lambda text: "\u03c2" in text.lower() and "\u03a3" in text),
        ("an emoji and a ZWJ", lambda t: "\u200d" in t and any(ord(c) > 0x1F000 for c in t)),
        ("a right-to-left mark", lambda text: "\u200f" in text),
    ],
)  # fmt: skip
def test_generated_text_reaches(what: str, predicate: Any) -> None:
    hypothesis.find(text_strategy(), predicate, settings=FIND)


@pytest.mark.parametrize("category", CATEGORIES)
def test_generated_text_has_every_category(category: str) -> None:
    hypothesis.find(
        text_strategy(),
        lambda text: any(unicodedata.category(c) == category for c in text),
        settings=FIND,
    )


def test_generated_text_keeps_to_its_length() -> None:
    @hypothesis.given(text_strategy(max_size=5))
    @hypothesis.settings(max_examples=200, database=None)
    def short(text: str) -> None:
        assert len(text) <= 5
        text.encode("utf-8")  # no lone surrogates

    short()


def test_digit_runs_stay_in_their_script() -> None:
    assert digit_run("\u0967", 4) == "\u0967\u0968\u0969\u096a"  # १२३४
    assert digit_run("9", 2) == "90"
    assert digit_run("\U0001d7d8", 3) == "\U0001d7d8\U0001d7d9\U0001d7da"  # mathematical digits


def test_check_tries_every_corpus_sentence_on_a_text_kernel(app: Flask) -> None:
    """Whatever hypothesis draws, each script of the corpus is tried, cut to the limit."""
    state = app.extensions["rustpath"]
    inputs = corpus_inputs(state.kernels["word_total"], state)
    assert [i["text"] for i in inputs] == [s[:PYTHON_TEXT_LIMIT] for _, s in corpus()]
    assert corpus_inputs(state.kernels["prime_total"], state) == []  # not a text kernel


def test_the_corpus_has_the_scripts_of_the_issue() -> None:
    scripts = {script for script, _ in corpus()}
    assert {"Latin", "Cyrillic", "Greek", "Arabic", "Hebrew", "Devanagari", "Bengali",
            "Tamil", "Thai", "Han", "Hangul", "Emoji"} <= scripts  # fmt: skip
    sentences = [sentence for _, sentence in corpus()]
    assert any("\r\n" in s for s in sentences)  # the escapes were read
    assert any("\u2028" in s and "\x85" in s for s in sentences)  # not split on
    assert all(s and "\n" not in s.replace("\r\n", "") for s in sentences)


# -- check --from-shadow ------------------------------------------------------------------

HINDI = "नमस्ते दुनिया"  # vowel signs: 13 characters, 9 alphanumeric to Rust


def shadow_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **config: Any) -> Flask:
    monkeypatch.setenv("SHOP_DATABASE", str(tmp_path / "shop.sqlite"))
    return shop.create_app(
        {
            "TESTING": True,
            "RUSTPATH_BACKENDS": {"text_letters": "shadow"},
            "RUSTPATH_SHADOW_RATES": {"text_letters": 1.0},
            "RUSTPATH_SHADOW_POOL": "thread",
            "RUSTPATH_SHADOW_RECORD": str(tmp_path / "mismatches.jsonl"),
            **config,
        }
    )


def test_shadow_mismatches_are_recorded_and_replayed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = shadow_app(tmp_path, monkeypatch, RUSTPATH_SHADOW_RECORD_CHARS=40)
    client = app.test_client()
    long_text = (HINDI + " ") * 10
    for text in ["plain words", HINDI, HINDI, long_text]:
        response = client.post("/words/letters", json={"text": text})
        assert response.status_code == 200
        # Rust answers; the shadow never changes the response
        assert response.get_json() == {
            "result": sum(1 for c in text if RUST_ALPHANUMERIC.match(c))
        }
    assert shop.rustpath.join_shadow(app)
    stats = shop.rustpath.stats(app)["text_letters"]["shadow"]
    assert (stats["match"], stats["mismatch"]) == (1, 3)

    lines = (tmp_path / "mismatches.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    # the same input twice is written once; the ASCII text matched and is not written
    assert [r["inputs"] for r in records] == [{"text": HINDI}, {"text": long_text[:40]}]
    assert records[0]["truncated"] == [] and records[1]["truncated"] == ["text"]
    assert "RUSTPATH_SHADOW_RECORD_CHARS" in records[1]["note"]
    python, rust = shop_words.text_letters.python(HINDI), shop_words._rust_letters(HINDI)
    assert python != rust
    assert (records[0]["python"], records[0]["rust"]) == (repr(python), repr(rust))

    result = run(app, "check", "--from-shadow")
    assert result.exit_code == 1, result.output
    fails = [line for line in result.output.splitlines() if line.startswith("FAIL")]
    assert len(fails) == 2
    assert repr(HINDI) in fails[0] and fails[1].endswith("(cut: text)")
    assert "2 recorded mismatches replayed from" in result.output
    assert result.output.rstrip().endswith("2 disagree")

    other = run(app, "check", "word_kinds", "--from-shadow")
    assert other.exit_code == 0, other.output
    assert "0 recorded mismatches replayed" in other.output


def test_an_input_that_agrees_now_is_reported_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As after a fix: a recorded input on which both sides agree today."""
    app = shadow_app(tmp_path, monkeypatch)
    record = MismatchRecord(tmp_path / "mismatches.jsonl", max_bytes=10_000, max_chars=100)
    assert record.append("text_letters", {"text": "abc"}, 3, 4) is None
    assert record.append("no_such_kernel", {"text": "abc"}, 3, 4) is None
    result = run(app, "check", "--from-shadow")
    assert result.exit_code == 0, result.output
    assert "ok    text_letters: {'text': 'abc'} agrees now" in result.output
    assert "skip  no_such_kernel: the app has no kernel of that name now" in result.output


def test_from_shadow_needs_the_record_setting(app: Flask) -> None:
    result = run(app, "check", "--from-shadow")
    assert result.exit_code == 2
    assert "set RUSTPATH_SHADOW_RECORD" in result.output


def test_the_record_setting_is_checked_at_init_app(tmp_path: Path) -> None:
    from flask_rustpath.core.errors import Misconfigured

    with pytest.raises(Misconfigured, match="RUSTPATH_SHADOW_RECORD_BYTES must be a positive"):
        shop.create_app({"RUSTPATH_SHADOW_RECORD_BYTES": 0})
    with pytest.raises(Misconfigured, match="RUSTPATH_SHADOW_RECORD must be a file path"):
        shop.create_app({"RUSTPATH_SHADOW_RECORD": 3})


# -- the record's bounds -------------------------------------------------------------------


def test_the_record_stops_at_its_size(tmp_path: Path) -> None:
    path = tmp_path / "record.jsonl"
    record = MismatchRecord(path, max_bytes=2_000, max_chars=50)
    problems = [record.append("k", {"text": f"input {i}"}, i, -i) for i in range(100)]
    assert path.stat().st_size <= 2_000
    written = len(path.read_text().splitlines())
    assert 0 < written < 100
    assert problems[:written] == [None] * written
    assert all("is full (2000 bytes)" in str(p) for p in problems[written:])


def test_an_input_too_big_for_a_line_keeps_only_its_kernel(tmp_path: Path) -> None:
    path = tmp_path / "record.jsonl"
    record = MismatchRecord(path, max_bytes=10**7, max_chars=10**6)
    assert record.append("k", {"items": ["x" * 100] * 1000}, 1, 2) is None
    assert record.append("k", {"items": {1, 2}}, 1, 2) is None  # a set: no JSON form
    first, second = read_record(path)
    assert first.inputs is None and str(MAX_LINE_BYTES) in first.note
    assert second.inputs is None and "set has no JSON form" in second.note
    assert len(path.read_bytes().splitlines()[0]) <= MAX_LINE_BYTES


def test_bytes_and_nested_values_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "record.jsonl"
    record = MismatchRecord(path, max_bytes=10**6, max_chars=3)
    record.append("k", {"data": b"\x00\xffab", "rows": [[1, 2, 3, 4]], "s": "\u2028\x85"}, 1, 2)
    (entry,) = read_record(path)
    assert entry.inputs == {"data": b"\x00\xffa", "rows": [[1, 2, 3]], "s": "\u2028\x85"}
    assert entry.truncated == ("data", "rows")


def _append_many(path: str, worker: int, max_bytes: int, start: Any) -> None:
    record = MismatchRecord(Path(path), max_bytes=max_bytes, max_chars=100)
    start.wait(60)
    for i in range(100):
        record.append("k", {"text": f"worker {worker} input {i} " + "x" * 50}, i, -i)


def _run_workers(path: Path, max_bytes: int) -> list[dict[str, Any]]:
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    workers = [
        context.Process(target=_append_many, args=(str(path), w, max_bytes, start))
        for w in range(4)
    ]
    for worker in workers:
        worker.start()
    start.set()  # all at once, not one after the other as they finish starting
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    data = path.read_bytes()
    assert len(data) <= max_bytes
    return [json.loads(line) for line in data.decode().splitlines()]  # whole lines only


def test_workers_share_one_file(tmp_path: Path) -> None:
    """Four processes append at once: every line whole, none lost."""
    records = _run_workers(tmp_path / "record.jsonl", max_bytes=10**6)
    assert len(records) == 400
    assert len({record["pid"] for record in records}) == 4


def test_workers_share_its_cap(tmp_path: Path) -> None:
    records = _run_workers(tmp_path / "record.jsonl", max_bytes=30_000)
    assert 100 < len(records) < 400  # the cap stopped them, after more than one worker's


@pytest.mark.slow
def test_gunicorn_workers_record_to_one_file_and_check_replays_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two gunicorn workers in shadow mode (the process pool, as deployed) append
    mismatches to one record; ``check --from-shadow`` replays all of them."""
    from .servers import gunicorn, request

    record = tmp_path / "mismatches.jsonl"
    monkeypatch.setenv("SHOP_DATABASE", str(tmp_path / "shop.sqlite"))
    shop.create_app()  # seed the database before the workers start at once
    env = {
        "GUNICORN_APP": "tests.apps.shop:create_app()",
        "WEB_CONCURRENCY": "2",
        "SHOP_DATABASE": str(tmp_path / "shop.sqlite"),
        "RUSTPATH_BACKENDS": '{"text_letters": "shadow"}',
        "RUSTPATH_SHADOW_RATES": '{"text_letters": 1.0}',
        "RUSTPATH_SHADOW_RECORD": str(record),
        "RUSTPATH_SHADOW_RECORD_CHARS": "40",
    }
    sent: list[str] = []

    def send(text: str) -> int:
        status, _, _ = request(
            base,
            "/words/letters",
            data=json.dumps({"text": text}).encode(),
            headers={"Content-Type": "application/json"},
        )
        return status

    def recorded() -> list[dict[str, Any]]:
        lines = record.read_text(encoding="utf-8").splitlines() if record.exists() else []
        return [json.loads(line) for line in lines]

    with gunicorn(env=env) as base, ThreadPoolExecutor(max_workers=4) as pool:
        # Batches of 8 (fewer than a worker's shadow queue holds while its pool starts;
        # beyond it they would be dropped and counted, by design), each one recorded
        # before the next, until both workers have written; at most 10.
        for _ in range(10):
            batch = [f"{HINDI} {len(sent) + i}" for i in range(8)]
            assert list(pool.map(send, batch)) == [200] * len(batch)
            sent += batch
            deadline = time.monotonic() + 60  # a worker starts its shadow pool first
            while len(recorded()) < len(sent) and time.monotonic() < deadline:
                time.sleep(0.1)
            if len({entry["pid"] for entry in recorded()}) >= 2:
                break
    entries = recorded()
    assert sorted(e["inputs"]["text"] for e in entries) == sorted(sent)  # whole, each once
    assert len({e["pid"] for e in entries}) == 2  # both workers wrote to the one file

    app = shadow_app(tmp_path, monkeypatch)  # the developer's app, same record setting
    result = run(app, "check", "--from-shadow")
    assert result.exit_code == 1, result.output
    assert f"{len(sent)} recorded mismatches replayed" in result.output
    assert result.output.rstrip().endswith(f"{len(sent)} disagree")


def test_a_forked_worker_gets_a_fresh_record_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """gunicorn forks its workers; a record lock held at the fork must not be inherited."""
    import os

    app = shadow_app(tmp_path, monkeypatch)
    runner = app.extensions["rustpath"].shadow
    with runner._record_lock:
        pid = os.fork()
        if pid == 0:  # the child: its lock must be free
            os._exit(0 if runner._record_lock.acquire(timeout=5) else 1)
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
