"""A real app's shape, with the real packages: an app factory, Flask-SQLAlchemy users,
Flask-Login on every page, a Flask-WTF (CSRF) login form and a form on the report
page, hooks on every route, its own 404 page, and blueprints registered *after*
``init_app`` whose modules declare the kernels (``shop_words`` is even imported after
it). The extension's dashboard and compare endpoint are behind its login
(``RUSTPATH_DASHBOARD_DECORATOR``), so they answer in production to users who log in.

The report page is an HTML view that calls a kernel whose Python reference takes tens
of milliseconds: the case where the old admission refused most requests on
``/python…`` and on the Python rollback. Served by gunicorn, Granian or the front with
``GUNICORN_APP=tests.apps.shop:create_app()``; the SQLite file is ``SHOP_DATABASE``
(default: a fresh one in a temporary directory). Every worker creates the tables and
the user if they are missing, so seed the file once before the server starts its
workers at the same time (``create_app()`` in the test's process does).
"""

from __future__ import annotations

import os
import re
import tempfile
from typing import Any

from flask import Blueprint, Flask, g, redirect, render_template_string, request, url_for
from flask_login import LoginManager, UserMixin, login_required, login_user
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import FlaskForm
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms import IntegerField, PasswordField, StringField

from flask_rustpath import RustPath
from flask_rustpath.kernels import sum_of_primes_sieve

db = SQLAlchemy()
login_manager = LoginManager()
rustpath = RustPath()
reports = Blueprint("reports", __name__, url_prefix="/reports")

PASSWORD = "correct horse"
# The page's n: the pure-Python sieve takes tens of milliseconds here.
REPORT_N = 2_000_000


@rustpath.kernel(
    rust="flask_rustpath._native:sum_of_primes",
    limits={"python": {"n": 3_000_000}},
    examples=[{"n": 1000}],
)
def prime_total(n: int) -> int:
    """Sum of the primes below ``n``, by a pure-Python sieve."""
    return sum_of_primes_sieve(n)


class User(UserMixin, db.Model):  # type: ignore[name-defined,misc]
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(unique=True)
    password_hash: Mapped[str]


class LoginForm(FlaskForm):
    username = StringField("user")
    password = PasswordField("password")


class ReportForm(FlaskForm):
    n = IntegerField("n")


PAGE = """<!doctype html><title>Report</title>
<h1>Primes below {{ n }}</h1><p id=total>{{ total }}</p>
<a id=next href="{{ url_for('reports.primes_page', n=n + 1) }}">next</a>
<form method=post>{{ form.csrf_token }}{{ form.n }}</form>"""


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return db.session.get(User, int(user_id))


@reports.before_request
def open_report() -> None:
    g.report_hook = "ran"


@reports.after_request
def close_report(response: Any) -> Any:
    response.headers["X-Report-Hook"] = g.get("report_hook", "missing")
    return response


@reports.route("/primes/<int:n>", methods=["GET", "POST"])
@rustpath.paired
@login_required
def primes_page(n: int) -> str:
    form = ReportForm()
    if form.validate_on_submit() and form.n.data:
        n = form.n.data
    return render_template_string(PAGE, n=n, total=prime_total(n), form=form)


@reports.get("/api/<int:n>")
@rustpath.paired
@login_required
def primes_api(n: int) -> dict[str, int]:
    return {"n": n, "total": prime_total(n)}


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    database = os.environ.get("SHOP_DATABASE") or os.path.join(
        tempfile.mkdtemp(prefix="rustpath-shop-"), "shop.sqlite"
    )
    app.config.update(
        {
            "SECRET_KEY": "a test app's secret",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}",
            # The dashboard and compare, in production too, for logged-in users only.
            "RUSTPATH_DASHBOARD_DECORATOR": login_required,
            **(config or {}),
        }
    )
    db.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    rustpath.init_app(app)  # before the blueprints, as the usual factory does

    @app.before_request
    def count_request() -> None:
        g.seen = True

    @app.errorhandler(404)
    def not_found(error: Any) -> tuple[str, int]:
        # The app's own page for every 404, as real apps have.
        return "<!doctype html><title>Shop</title><p id=shop-404>No such page.", 404

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        return rustpath.health()

    auth = Blueprint("auth", __name__, url_prefix="/auth")

    @auth.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        form = LoginForm()
        if form.validate_on_submit():
            user = db.session.execute(
                db.select(User).filter_by(name=form.username.data)
            ).scalar_one_or_none()
            if user is not None and check_password_hash(
                user.password_hash, form.password.data or ""
            ):
                login_user(user)
                return redirect(request.args.get("next") or url_for("reports.primes_page", n=10))
        return render_template_string(
            "<form method=post>{{ form.csrf_token }}{{ form.username }}{{ form.password }}</form>",
            form=form,
        )

    # Its kernels are declared on import, after init_app above.
    from .shop_words import words

    app.register_blueprint(auth)
    app.register_blueprint(reports)
    app.register_blueprint(words)
    with app.app_context():
        db.create_all()
        if db.session.execute(db.select(User).filter_by(name="alice")).first() is None:
            db.session.add(User(name="alice", password_hash=generate_password_hash(PASSWORD)))
            try:
                db.session.commit()
            except IntegrityError:  # another worker seeded it first
                db.session.rollback()
    return app


def log_in(client: Any) -> None:
    """Log ``client`` (a Flask test client) in as alice, through the login form and its
    CSRF token, as a browser does."""
    page = client.get("/auth/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token is not None, page
    fields = {"username": "alice", "password": PASSWORD, "csrf_token": token.group(1)}
    assert client.post("/auth/login", data=fields).status_code == 302
