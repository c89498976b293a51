"""A bounded fuzz of the demo's hot URLs over real gunicorn on loopback.

Hypothesis generates raw HTTP/1.x requests (request line, headers and body written
byte by byte on a socket, so malformed ones are possible) against the demo's hot rules:
``/sum_of_primes/<int:n>``, ``/sieve/…``, ``/numpy/…`` and ``/rustpath/sum_of_primes/<n>``,
bare or under the ``/python`` and ``/rust`` side prefixes. Requests go one at a time,
each with a socket timeout, and the whole run has a wall-clock budget: past it the
test fails instead of hanging.

Every answer is classified:

``gunicorn``
    refused by gunicorn before the app ran: a malformed request line, method or
    header, a header too long (431), a request line too long (414), a bad
    ``Content-Length`` or chunked body. Recognised by gunicorn's own error page:
    ``Connection``, ``Content-Type: text/html`` and ``Content-Length`` only (no
    ``Server`` or ``Date`` header, which every answer through the app carries) and
    its HTML body. Not app-level: counted apart, still below 500.
``hot``
    the app answered for a path under a hot rule. The path is the one the app routes:
    the target's path, percent-decoded, less a side prefix, as UTF-8 (invalid bytes
    replaced), with runs of ``/`` merged (werkzeug merges them); it is "under" a hot
    rule when it is the rule's fixed start (``/sum_of_primes``) or starts with it and
    ``/``. Every 4xx must be ``application/json`` with an object carrying ``error`` and
    ``message``; a 200 to ``GET`` must be ``{"result": <the right sum>}`` for an
    ASCII-digit ``n``, and is refused for any other ``n``.
``other``
    the app answered for a path outside every hot rule (``/rust/unknown``,
    ``/Rust/…``, ``/pythonx/…``, ``OPTIONS *``): by design the app's own handling
    (Flask's HTML 404). Counted; only the status is checked.

Every answer, of any class, must be below 500, and every request must be answered.
Afterwards ``/healthz`` and ``/rust/sum_of_primes/100`` still answer 200 correctly.

Two things are left out of the generator on purpose, each a gunicorn decision taken
before the app runs:

- ``Transfer-Encoding`` codings gunicorn does not know: it answers them 501, as
  RFC 9112 section 6.1 says a server should.
- The ``SCRIPT_NAME`` and ``PATH_INFO`` headers: gunicorn trusts them from
  ``forwarded_allow_ips`` (loopback by default), so here they are a proxy's headers,
  not an anonymous client's. See
  :func:`test_a_forwarded_script_name_that_does_not_fit_is_not_a_500`.
"""

from __future__ import annotations

import collections
import http.client
import json
import re
import socket
import time
import urllib.parse
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flask_rustpath.demo import create_app
from flask_rustpath.kernels import sum_of_primes_sieve
from flask_rustpath.state import get_state
from flask_rustpath.support.rules import fixed_start

from .servers import get, gunicorn

EXAMPLES = 3_600  # generated requests, sent one at a time
MIN_REQUESTS = 2_000  # of them, at least this many must reach the app
REQUEST_TIMEOUT_S = 10.0
BUDGET_S = 300.0  # the whole fuzz; past it, the test fails rather than hangs
MAX_RESPONSE_BYTES = 1 << 20

SIDE_PREFIXES = ("/python", "/rust")
# The demo's hot rules, by fixed start. /numpy exists only where NumPy is installed:
# checked against the app below, so this list cannot drift from the demo.
HOT_STARTS = ("/sum_of_primes", "/sieve/sum_of_primes", "/numpy/sum_of_primes")
BLUEPRINT_HOT_STARTS = ("/rustpath/sum_of_primes",)
FORWARDER_HEADERS = frozenset({"SCRIPT_NAME", "PATH_INFO"})


def hot_starts() -> tuple[str, ...]:
    """The fixed starts of the demo's hot rules, read from the app itself."""
    app = create_app({"TESTING": True})
    with app.app_context():
        routes = get_state(app).routes
        return tuple(
            sorted(
                fixed_start(rule.rule)
                for rule in app.url_map.iter_rules()
                if rule.endpoint in routes
            )
        )


# -- requests ----------------------------------------------------------------------


@dataclass
class Request:
    method: bytes
    target: bytes
    version: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def raw(self) -> bytes:
        lines = [b" ".join((self.method, self.target, self.version))]
        lines += [name + b": " + value for name, value in self.headers]
        lines.append(b"Connection: close")
        return b"\r\n".join(lines) + b"\r\n\r\n" + self.body

    def __repr__(self) -> str:
        raw = self.raw()
        shown = raw if len(raw) <= 600 else raw[:600] + b"...(%d bytes)" % len(raw)
        return f"Request({shown!r})"


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def __repr__(self) -> str:
        return f"Answer({self.status}, {self.headers!r}, {self.body[:400]!r})"


def send(port: int, request: Request) -> Answer:
    """Write ``request`` on a fresh connection, half-close it, and read one answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=REQUEST_TIMEOUT_S) as sock:
        sock.sendall(request.raw())
        # The server sees the end of a body shorter than its Content-Length.
        sock.shutdown(socket.SHUT_WR)
        method = request.method.decode("latin-1")
        response = http.client.HTTPResponse(sock, method=method)
        try:
            response.begin()  # skips a "100 Continue"
            if method == "HEAD":
                # The app sends no body to HEAD, but gunicorn's refusal page comes
                # whatever the method: read up to the end of the connection.
                body = response.fp.read(MAX_RESPONSE_BYTES) if response.fp else b""
            else:
                body = response.read(MAX_RESPONSE_BYTES)
            return Answer(response.status, response.getheaders(), body)
        finally:
            response.close()


# -- strategies --------------------------------------------------------------------

# Digits other than ASCII's, which str.isdigit() and the regex \d accept: Arabic-Indic,
# Persian, fullwidth and Devanagari zero to nine, and superscripts.
DIGIT_ZEROS = (0x0660, 0x06F0, 0xFF10, 0x0966)
NON_ASCII_DIGITS = "".join(chr(zero + i) for zero in DIGIT_ZEROS for i in range(10)) + "¹²³"

small_n = st.integers(0, 3_000).map(str)  # quick on every side
segments = st.one_of(
    small_n,
    small_n.map(lambda n: "000" + n),
    st.integers(-(10**12), -1).map(str),
    # Above every side's limit (10**10 at most): a quick 422.
    st.integers(10**10 + 1, 10**400).map(str),
    st.integers(11, 5_000).map(lambda k: "9" * k),  # beyond 4094 bytes: gunicorn's 414
    st.text(st.sampled_from(NON_ASCII_DIGITS), min_size=1, max_size=6),
    st.text(max_size=20),
    st.integers(1, 5_000).map(lambda k: "a" * k),
    st.sampled_from(
        [
            "",
            ".",
            "..",
            "%",
            "%zz",
            "%2F",
            "%2f",
            "%ff",
            "%FF%FE",
            "%00",
            "%C3%B1",
            "1%2F2",
            "1/2",
            "1/",
            "1e3",
            "0x10",
            "+5",
            " 5",
            "5 ",
            "1.5",
            "1_000",
            "\uff11\uff10",  # fullwidth 10
            "\u0661\u0660\u0660",  # Arabic-Indic 100
            "ñ",
            "😀",
            "\x00",
            "\t",
            "-0",
            "0" * 50,
        ]
    ),
)


@st.composite
def encoded_segment(draw: st.DrawFn, wild: bool) -> bytes:
    """A segment as it goes on the wire: quoted, percent-encoded everywhere, raw, …"""
    text = draw(segments)
    hows = ["quote", "keep", "all", "lower", "latin-1"] + (["raw"] if wild else [])
    how = draw(st.sampled_from(hows))
    if how == "quote":
        return urllib.parse.quote(text, safe="").encode("ascii")
    if how == "keep":  # already-encoded sequences like %2F and %ff go out as they are
        return urllib.parse.quote(text, safe="%/").encode("ascii")
    if how == "all":
        return b"".join(b"%%%02X" % byte for byte in text.encode("utf-8"))
    if how == "lower":
        return b"".join(b"%%%02x" % byte for byte in text.encode("utf-8"))
    if how == "raw":  # non-ASCII and control bytes straight in the request line
        return text.encode("utf-8")
    # Invalid UTF-8 once decoded: each character's low byte, percent-encoded.
    return b"".join(b"%%%02X" % (ord(c) & 0xFF) for c in text)


@st.composite
def targets(draw: st.DrawFn, starts: tuple[str, ...], wild: bool) -> bytes:
    prefix = draw(
        st.sampled_from(["", "", "/python", "/rust", "/rust", "/Rust", "/pythonx", "/rust/"])
    )
    start = draw(st.sampled_from(starts))
    separator = draw(st.sampled_from(["/", "/", "/", "//", "/./", "/../", "%2F", "/x/"]))
    segment = draw(encoded_segment(wild))
    suffix = draw(
        st.sampled_from(
            ["", "", "", "/", "//", "/extra", "?n=5", "?x=%ff", "#frag", "?", "/%2e%2e"]
        )
    )
    path = prefix.encode() + start.encode() + separator.encode() + segment + suffix.encode()
    forms = ["origin", "origin", "origin", "absolute"] + (["star", "bare"] if wild else [])
    form = draw(st.sampled_from(forms))
    if form == "absolute":
        return b"http://127.0.0.1" + path
    if form == "star":
        return b"*"
    if form == "bare":  # no leading slash
        return path.lstrip(b"/")
    return path


common_methods = st.sampled_from(
    [b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"OPTIONS", b"PATCH"]
)
# Tokens gunicorn accepts (upper case), which the app has no rule for.
odd_methods = st.one_of(
    st.sampled_from([b"FOO", b"M-SEARCH", b"PROPFIND", b"TRACE", b"BREW", b"X" * 20]),
    st.from_regex(rb"\A[A-Z][A-Z_\-]{0,15}\Z"),
)
# Tokens gunicorn refuses: lower case, non-ASCII, separators, too long.
bad_methods = st.sampled_from(
    [b"CONNECT", b"get", b"Get", b"G\xc3\x89T", b"GET\x00", b"X" * 40, b"G:T", b"GET/1"]
)
# GET-heavy, so most requests reach the kernels.
tame_methods = st.one_of(st.just(b"GET"), st.just(b"GET"), common_methods, odd_methods)
wild_methods = st.one_of(tame_methods, bad_methods)
tame_versions = st.sampled_from([b"HTTP/1.1", b"HTTP/1.1", b"HTTP/1.0"])
wild_versions = st.sampled_from(
    [b"HTTP/1.1", b"HTTP/2.0", b"HTTP/1.2", b"HTTP/0.9", b"http/1.1", b"HTTP/1", b"HTTP/1.1 x"]
)

tame_content_types = st.one_of(
    st.sampled_from(
        [
            b"application/json",
            b"application/json; charset=utf-16",
            b"text/plain",
            b"multipart/form-data; boundary=zz",
            b"multipart/form-data",
            b"application/x-www-form-urlencoded",
            b"*/*",
            b"garbage;;;=",
            b"",
            b"application/json; charset=nope",
            b"application/json;;",
            b"APPLICATION/JSON",
        ]
    ),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40).map(
        lambda s: s.strip().encode("ascii")
    ),
)
wild_content_types = st.one_of(
    tame_content_types,
    st.sampled_from([b"application/json; charset=\xff", "text/plain; charset=ñ".encode()]),
    st.binary(max_size=40).filter(lambda b: b"\r" not in b and b"\n" not in b),
)
tame_header_names = st.one_of(
    st.sampled_from([b"Accept", b"Accept-Encoding", b"Cookie", b"User-Agent", b"X-Forwarded-For"]),
    st.from_regex(rb"\A[A-Za-z0-9!#$%&'*+.^_`|~-]{1,30}\Z").filter(
        lambda name: name.upper().replace(b"-", b"_").decode() not in FORWARDER_HEADERS
    ),
)
wild_header_names = st.one_of(
    tame_header_names,
    st.sampled_from([b"X Y", b"X:Y", "Ñame".encode(), b"X\x00"]),  # gunicorn refuses
)
tame_header_values = st.one_of(
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40).map(
        lambda s: s.strip().encode("ascii")
    ),
    st.integers(1, 4_000).map(lambda k: b"v" * k),
)
wild_header_values = st.one_of(
    st.text(max_size=40).map(lambda s: s.encode("utf-8")),  # non-ASCII: gunicorn refuses
    st.binary(max_size=60),
    st.integers(1, 9_000).map(lambda k: b"v" * k),  # past 8190 bytes: gunicorn's 431
).map(lambda v: v.replace(b"\r", b"").replace(b"\n", b""))

bodies = st.one_of(
    st.just(b""),
    st.binary(max_size=2_048),
    st.builds(lambda n: json.dumps({"n": n}).encode(), st.integers() | st.text() | st.none()),
    st.sampled_from([b'{"n":', b"[1, 2", b"nul", b"\xff\xfe{", b"n=5&n=6", b"{}" * 500]),
    st.text(max_size=200).map(lambda s: s.encode("utf-16")),
)


def chunked(body: bytes) -> bytes:
    return (b"%x\r\n" % len(body) + body + b"\r\n" if body else b"") + b"0\r\n\r\n"


@st.composite
def requests(draw: st.DrawFn, starts: tuple[str, ...]) -> Request:
    """One request; a quarter of them "wild", malformed in ways gunicorn refuses."""
    wild = draw(st.integers(0, 3)) == 0
    headers: list[tuple[bytes, bytes]] = []
    if not wild or draw(st.integers(0, 4)):
        headers.append((b"Host", b"127.0.0.1"))
    if draw(st.booleans()):
        headers.append((b"Content-Type", draw(wild_content_types if wild else tame_content_types)))
    names, values = (
        (wild_header_names, wild_header_values)
        if wild
        else (tame_header_names, tame_header_values)
    )
    headers += draw(st.lists(st.tuples(names, values), max_size=3))
    if wild and draw(st.integers(0, 4)) == 0:
        headers.append((b"Expect", draw(st.sampled_from([b"100-continue", b"200-ok"]))))
    body = draw(bodies)
    framings = ["exact", "exact", "none", "short", "long", "chunked"]
    framing = draw(st.sampled_from(framings + (["invalid", "twice", "bad-chunk"] if wild else [])))
    if framing == "exact":
        headers.append((b"Content-Length", b"%d" % len(body)))
    elif framing == "short" and body:  # the bytes past it are left unread
        headers.append((b"Content-Length", b"%d" % draw(st.integers(0, len(body) - 1))))
    elif framing == "long":  # the rest never comes: the client half-closes
        headers.append((b"Content-Length", b"%d" % (len(body) + draw(st.integers(1, 100)))))
    elif framing == "invalid":
        value = draw(st.sampled_from([b"-1", b"abc", b"1e3", b" 5", b"5,5", b"0x10", b"\xd9\xa1"]))
        headers.append((b"Content-Length", value))
    elif framing == "twice":
        headers += [(b"Content-Length", b"%d" % len(body)), (b"Content-Length", b"0")]
    elif framing == "chunked":
        coding = draw(st.sampled_from([b"chunked", b"gzip, chunked", b"Chunked"]))
        headers.append((b"Transfer-Encoding", coding))
        body = chunked(body)
    elif framing == "bad-chunk":
        headers.append((b"Transfer-Encoding", b"chunked"))
        body = draw(st.sampled_from([b"zz\r\n", b"5\r\nab", b"-1\r\n\r\n", b"5;x\r\nabcde"]))
    headers = draw(st.permutations(headers))
    return Request(
        method=draw(wild_methods if wild else tame_methods),
        target=draw(targets(starts, wild)),
        version=draw(wild_versions if wild else tame_versions),
        headers=list(headers),
        body=body,
    )


# -- classification ----------------------------------------------------------------

GUNICORN_PAGE = re.compile(rb"\A<html>\n  <head>\n    <title>[^<]*</title>")


def is_gunicorn_refusal(answer: Answer) -> bool:
    names = {name.lower() for name, _ in answer.headers}
    return (
        names == {"connection", "content-type", "content-length"}
        and answer.header("Content-Type") == "text/html"
        and GUNICORN_PAGE.match(answer.body) is not None
    )


def routed_path(target: bytes) -> str | None:
    """The path the app routes for ``target``, side prefix off; ``None`` for ``*``."""
    if target.startswith(b"http://"):
        slash = target.find(b"/", len(b"http://"))
        target = target[slash:] if slash != -1 else b"/"
    if not target.startswith(b"/"):
        return None
    path = re.split(rb"[?#]", target, maxsplit=1)[0]
    wsgi = urllib.parse.unquote_to_bytes(path).decode("latin-1")  # as gunicorn's PATH_INFO
    for prefix in SIDE_PREFIXES:  # as PairingMiddleware
        if wsgi.startswith(prefix) and (len(wsgi) == len(prefix) or wsgi[len(prefix)] == "/"):
            wsgi = wsgi[len(prefix) :] or "/"
            break
    decoded = wsgi.encode("latin-1").decode("utf-8", "replace")  # as werkzeug
    return re.sub("/+", "/", decoded)


def hot_start_of(path: str | None, starts: tuple[str, ...]) -> str | None:
    if path is None:
        return None
    for start in starts:
        if path == start or path.startswith(start + "/"):
            return start
    return None


@dataclass
class Tally:
    counts: collections.Counter[str] = field(default_factory=collections.Counter)
    statuses: collections.Counter[tuple[str, int]] = field(default_factory=collections.Counter)
    problems: list[str] = field(default_factory=list)
    sent: int = 0

    def problem(self, text: str, request: Request, answer: Answer | None = None) -> None:
        self.counts["problem"] += 1
        self.counts[f"problem: {text.split(' (')[0]}"] += 1
        if len(self.problems) < 20:
            self.problems.append(f"{text}\n    {request!r}\n    {answer!r}")


def check(tally: Tally, request: Request, answer: Answer, starts: tuple[str, ...]) -> None:
    if is_gunicorn_refusal(answer):
        kind = "gunicorn"
    else:
        path = routed_path(request.target)
        start = hot_start_of(path, starts)
        kind = "hot" if start is not None else "other"
        if kind == "hot" and 400 <= answer.status < 500:
            check_json_error(tally, request, answer)
        if kind == "hot" and answer.status == 200 and request.method == b"GET":
            assert path is not None and start is not None
            check_result(tally, request, answer, path[len(start) + 1 :])
    tally.counts[kind] += 1
    tally.statuses[kind, answer.status] += 1
    if answer.status >= 500:
        tally.problem(f"status {answer.status} ({kind})", request, answer)


def check_json_error(tally: Tally, request: Request, answer: Answer) -> None:
    content_type = answer.header("Content-Type") or ""
    if content_type.split(";")[0].strip() != "application/json":
        tally.problem("a hot URL's 4xx is not JSON", request, answer)
        return
    if request.method == b"HEAD":
        return  # no body to read
    try:
        body = json.loads(answer.body)
    except ValueError:
        tally.problem("a hot URL's 4xx body does not parse as JSON", request, answer)
        return
    if not (
        isinstance(body, dict)
        and isinstance(body.get("error"), str)
        and isinstance(body.get("message"), str)
    ):
        tally.problem("a hot URL's 4xx JSON lacks error/message", request, answer)


def check_result(tally: Tally, request: Request, answer: Answer, n: str) -> None:
    if not re.fullmatch("[0-9]+", n):
        tally.problem(f"a 200 for n={n!r}, not ASCII digits", request, answer)
        return
    try:
        body = json.loads(answer.body)
    except ValueError:
        tally.problem("a 200 that is not JSON", request, answer)
        return
    if int(n) <= 10**6 and body != {"result": sum_of_primes_sieve(int(n))}:
        tally.problem(f"a wrong sum for n={n}", request, answer)


# -- the tests ---------------------------------------------------------------------


@pytest.mark.slow
def test_hot_urls_survive_a_fuzz_over_real_gunicorn() -> None:
    starts = hot_starts()
    numpy_start = () if "/numpy/sum_of_primes" in starts else ("/numpy/sum_of_primes",)
    assert set(starts) == set(HOT_STARTS + BLUEPRINT_HOT_STARTS) - set(numpy_start)
    tally = Tally()
    began = time.monotonic()

    with gunicorn() as base:
        port = int(base.rsplit(":", 1)[1])

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(requests(HOT_STARTS + BLUEPRINT_HOT_STARTS))
        def fuzz(request: Request) -> None:
            # Problems are collected, not raised: shrinking would resend requests
            # for minutes, and the raw request is reported whole anyway.
            if time.monotonic() - began > BUDGET_S:
                tally.counts["over_budget"] += 1
                return
            tally.sent += 1
            try:
                answer = send(port, request)
            except (OSError, http.client.HTTPException) as exc:
                tally.problem(f"no answer: {type(exc).__name__}: {exc}", request)
                return
            check(tally, request, answer, starts)

        fuzz()
        elapsed = time.monotonic() - began
        # The server still answers, and correctly.
        health = get(base + "/healthz", timeout=REQUEST_TIMEOUT_S)
        kernel = get(base + "/rust/sum_of_primes/100", timeout=REQUEST_TIMEOUT_S)

    summary = (
        f"{tally.sent} requests in {elapsed:.1f} s: {dict(tally.counts)}; "
        f"statuses {sorted(tally.statuses.items())}"
    )
    print(summary)
    assert not tally.problems, summary + "\n" + "\n".join(tally.problems)
    assert tally.counts["over_budget"] == 0, f"over the {BUDGET_S:.0f} s budget: " + summary
    reached = tally.counts["hot"] + tally.counts["other"]
    assert reached >= MIN_REQUESTS, "too few requests reached the app: " + summary
    assert (health[0], json.loads(health[2])) == (200, {"status": "ok"})
    assert (kernel[0], json.loads(kernel[2])) == (200, {"result": 1060})


@pytest.mark.parametrize(
    "path",
    [
        "//sum_of_primes/x/5",
        "//sum_of_primes/10//",
        "//sum_of_primes/../x",
        "//sum_of_primes",
        "/rust//sieve/sum_of_primes/x/5",
    ],
)
def test_a_doubled_slash_before_a_hot_rule_answers_json(path: str) -> None:
    """Found by the fuzz: the same URLs with one leading ``/`` answer a JSON 404, and
    ``//sum_of_primes/abc`` does too. PATH_INFO is set as gunicorn sets it (the test
    client would read ``//host/...`` as a network location)."""
    client = create_app({"TESTING": True}).test_client()
    response = client.get("/", environ_overrides={"PATH_INFO": path})
    assert response.status_code == 404
    assert response.is_json, response.get_data()
    assert {"error", "message"} <= set(response.json)


@pytest.mark.slow
def test_a_forwarded_script_name_that_does_not_fit_is_not_a_500() -> None:
    """Found while fuzzing headers: gunicorn trusts ``SCRIPT_NAME`` from
    ``forwarded_allow_ips`` (loopback by default, so any client of a proxy on the same
    host that passes the header through) and answers 500 itself when the path does not
    start with it, before the app runs."""
    request = Request(
        b"GET",
        b"/rust/sum_of_primes/10",
        b"HTTP/1.1",
        [(b"Host", b"127.0.0.1"), (b"SCRIPT_NAME", b"/elsewhere")],
        b"",
    )
    with gunicorn() as base:
        answer = send(int(base.rsplit(":", 1)[1]), request)
    assert answer.status < 500, answer
