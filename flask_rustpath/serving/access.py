"""How the tools reach a view behind a login: headers, cookies and a login form.

``flask rustpath compare /URL`` and ``bench --url`` request real views, and real views
are behind Flask-Login, a token or a session. Requested bare, such a view answers a
302 to the login page or a 401 on both sides, and two identical login redirects are no
evidence that the sides agree. So the tools:

- carry what a logged-in client sends: ``-H 'Name: value'`` headers and ``--cookie
  name=value`` cookies (a ``Cookie`` header given with ``-H`` is read as cookies);
- can log in first (``--login /auth/login -F username=… -F password=…``): the login
  page is fetched, its form's hidden fields (a Flask-WTF ``csrf_token``) are kept, the
  form is posted with the given fields, and the cookies the app set are carried on;
- never follow a redirect, and take a 3xx or 4xx answer as "not compared" or "not
  measured", never as a result (:func:`not_an_answer`).

The cookies travel as one ``Cookie`` header, the way a browser or ``hey`` sends them:
werkzeug's test client would drop a raw ``Cookie`` header in favour of its own cookie
jar, so the tools' clients are made without one (``use_cookies=False``).
"""

from __future__ import annotations

import http.client
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.cookies import CookieError, SimpleCookie

from flask import Flask


class AccessError(ValueError):
    """A header, cookie or login the user gave cannot be used; the message says why."""


@dataclass
class Credentials:
    """What each of the tools' requests carries: headers, and cookies as one header."""

    headers: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, headers: Iterable[str], cookies: Iterable[str]) -> Credentials:
        """From ``-H 'Name: value'`` and ``--cookie name=value`` options."""
        found = cls()
        for pair in headers:
            name, sep, value = pair.partition(":")
            if not sep or not name.strip():
                raise AccessError(f"expected -H 'Name: value', got {pair!r}")
            if name.strip().lower() == "cookie":
                found.cookies.update(_cookie_pairs(value))
            else:
                found.headers[name.strip()] = value.strip()
        for pair in cookies:
            name, sep, value = pair.partition("=")
            if not sep or not name.strip():
                raise AccessError(f"expected --cookie name=value, got {pair!r}")
            found.cookies[name.strip()] = value.strip()
        return found

    def request_headers(self) -> dict[str, str]:
        """The headers of a request, the cookies as its ``Cookie`` header."""
        headers = dict(self.headers)
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return headers

    def header_lines(self) -> list[str]:
        """The same, as ``Name: value`` lines (``hey -H``)."""
        return [f"{name}: {value}" for name, value in self.request_headers().items()]


def _cookie_pairs(header: str) -> dict[str, str]:
    pairs = {}
    for part in header.split(";"):
        name, sep, value = part.strip().partition("=")
        if not sep or not name:
            raise AccessError(f"expected a Cookie header of name=value pairs, got {header!r}")
        pairs[name] = value
    return pairs


def login(app: Flask, path: str, fields: Mapping[str, str], credentials: Credentials) -> str:
    """Log in through the app's own login form at ``path``; add the cookies it set to
    ``credentials``. Returns a line saying what the login answered.

    The page's form (the one with a password field, else the first) gives the action,
    the method and the hidden fields (a CSRF token); ``fields`` fill in the rest. A
    login that answers 4xx or 5xx is refused here; one that answers 200 (a form shown
    again: wrong credentials?) is reported, and the views will then answer what an
    anonymous client gets, which the tools report as not compared.
    """
    client = app.test_client()  # with a cookie jar: the CSRF token lives in the session
    for name, value in credentials.cookies.items():
        client.set_cookie(name, value)
    page = client.get(path, headers=credentials.headers)
    set_cookies = page.headers.getlist("Set-Cookie")
    if page.status_code != 200:
        raise AccessError(f"--login: GET {path} answered {page.status_code}, not a form")
    form = _login_form(page.get_data(as_text=True))
    if form is None:
        raise AccessError(f"--login: the page at {path} has no <form>")
    unknown = set(fields) - set(form.fields)
    if unknown:
        known = ", ".join(sorted(form.fields)) or "none"
        raise AccessError(
            f"--login: the form at {path} has no field {', '.join(sorted(unknown))} "
            f"(its fields: {known})"
        )
    data = {**form.fields, **fields}
    target = urllib.parse.urljoin(path, form.action or path)
    if form.method == "get":
        answer = client.get(target, query_string=data, headers=credentials.headers)
    else:
        answer = client.post(target, data=data, headers=credentials.headers)
    if answer.status_code >= 400:
        raise AccessError(f"--login: {form.method.upper()} {target} answered {answer.status_code}")
    set_cookies += answer.headers.getlist("Set-Cookie")
    for name, cookie_path in _cookie_names(set_cookies):
        cookie = client.get_cookie(name, path=cookie_path)
        if cookie is None:  # the app deleted it
            credentials.cookies.pop(name, None)
        else:
            credentials.cookies[name] = cookie.value
    said = f"{form.method.upper()} {target} answered {answer.status_code}"
    location = answer.headers.get("Location")
    if location:
        said += f", to {location}"
    elif answer.status_code == 200:
        said += " (a login usually redirects: are the -F fields right?)"
    return f"login   {said}"


def _cookie_names(headers: Iterable[str]) -> list[tuple[str, str]]:
    """(name, path) of each cookie in ``Set-Cookie`` headers."""
    names = []
    for header in headers:
        cookie: SimpleCookie = SimpleCookie()
        try:
            cookie.load(header)
        except CookieError:
            continue
        for name, morsel in cookie.items():
            names.append((name, morsel["path"] or "/"))
    return names


@dataclass
class _Form:
    action: str | None
    method: str
    fields: dict[str, str]
    has_password: bool = False


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[_Form] = []
        self._open: _Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            method = (attributes.get("method") or "get").lower()
            self._open = _Form(attributes.get("action"), method, {})
            self.forms.append(self._open)
        elif self._open is not None and tag in ("input", "textarea", "select"):
            kind = attributes.get("type", "text").lower()
            name = attributes.get("name")
            if kind == "password":
                self._open.has_password = True
            if name and kind not in ("submit", "button", "image", "reset", "file"):
                if kind in ("checkbox", "radio") and "checked" not in attributes:
                    return
                self._open.fields.setdefault(name, attributes.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._open = None


def _login_form(html: str) -> _Form | None:
    parser = _Forms()
    parser.feed(html)
    return next((f for f in parser.forms if f.has_password), None) or next(
        iter(parser.forms), None
    )


def not_an_answer(status: int, location: str | None) -> str | None:
    """Why a response cannot be compared or measured, or ``None`` if it can.

    A 3xx is where the view sent the client (often a login page), not what it
    answered; a 4xx is what a client that is not allowed in, or asked wrongly, gets.
    """
    if 300 <= status < 400:
        return f"{status}, a redirect to {location or '?'}"
    if 400 <= status < 500:
        return f"{status}, a client error"
    return None


def hint(statuses: Iterable[int]) -> str:
    """What to do about answers that cannot be compared or measured."""
    if any(300 <= status < 400 or status in (401, 403) for status in statuses):
        return (
            "give what a logged-in client sends (-H 'Authorization: …', --cookie "
            "name=value, or --login PATH -F field=value)"
        )
    return "the app refused the request itself: check the URL, method, headers and body"


def probe(base: str, path: str, credentials: Credentials, timeout_s: float = 30) -> str | None:
    """Request ``base + path`` once over HTTP, never following a redirect; why its
    answer is not one to measure (:func:`not_an_answer`, with a :func:`hint`), or
    ``None``."""
    parts = urllib.parse.urlsplit(base)
    connection = http.client.HTTPConnection(
        parts.hostname or "127.0.0.1", parts.port, timeout=timeout_s
    )
    try:
        connection.request("GET", path, headers=credentials.request_headers())
        response = connection.getresponse()
        response.read()
        reason = not_an_answer(response.status, response.getheader("Location"))
        return None if reason is None else f"{reason}; {hint([response.status])}"
    finally:
        connection.close()
