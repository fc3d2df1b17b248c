"""The Flask admin: an app factory wiring the core's services to three blueprints.

Run it with ``flask --app 'connectors.web:create_app()' run``. The admin publishes nothing on the
bus: submitting a job writes the outbox through the core, and the relay does the rest.
"""
from __future__ import annotations

from typing import Any

from flask import Flask, current_app, make_response, render_template, request
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from connectors.services import Services

from . import (
    api, api_tokens_page, auth, connectors, converters, db, filters, input_guard, plugin_pages, registrations, runs,
)
from .api_support import error_response, general_field
from . import dead_letters  # its own line: others edit the import above

#: No inline script or style anywhere: pages load /static/*.js and *.css only.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
#: Endpoints reachable without logging in; every other one requires a session. The API checks
#: its own token; /metrics shows aggregate counts only.
PUBLIC_ENDPOINTS = frozenset({"auth.login", "static", "api.status_changes", "metrics.metrics"})

csrf = CSRFProtect()


def create_app(services: Services | None = None, config: dict[str, Any] | None = None) -> Flask:
    """Build the admin. ``services`` defaults to the environment's (``CONNECTORS_*`` variables)."""
    app = Flask(__name__)
    services = services or Services.from_settings()
    settings = services.settings
    secure = settings.secure_cookies is not False  # on unless switched off (the http demo does)
    app.config.update(
        SECRET_KEY=settings.ensure_secret_key(),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=secure,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session: long forms stay valid
        MAX_CONTENT_LENGTH=1024 * 1024,
    )
    app.config.update(config or {})
    app.extensions["connectors"] = services
    if settings.trusted_proxies:  # the client's address (login throttling) and https, as the proxies saw them
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]

    converters.init_app(app)  # before the blueprints: their rules take the bounded ``int``
    csrf.init_app(app)
    _init_login(app)
    db.init_app(app)
    filters.init_app(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(connectors.bp)
    app.register_blueprint(runs.bp)
    app.register_blueprint(plugin_pages.bp)
    app.register_blueprint(registrations.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(api_tokens_page.bp)
    dead_letters.init_app(app)  # the Dead letters page and /metrics
    csrf.exempt(api.bp)  # token-authenticated, no cookie: CSRF cannot reach it
    app.before_request(_require_login)
    input_guard.init_app(app)  # after the login and token checks: who may ask comes first
    app.after_request(_security_headers)
    _init_errors(app)
    return app


def _init_login(app: Flask) -> None:
    manager = LoginManager(app)
    manager.login_view = "auth.login"
    manager.login_message = "Please log in to see this page."
    manager.login_message_category = "info"
    manager.session_protection = "strong"
    manager.user_loader(auth.load_user)


def _require_login():
    """Secure by default: a new route needs a login unless it is listed in ``PUBLIC_ENDPOINTS``."""
    if request.endpoint in PUBLIC_ENDPOINTS or current_user.is_authenticated:
        return None
    if request.endpoint is None:  # unknown URL: let it 404 without revealing anything
        return None
    if _asks_for_json():  # a browser opening /api/v1/docs is sent to the login page
        return error_response(401, {"authorization": ["login required"]})
    return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]


def _asks_for_json() -> bool:
    return request.path.endswith(".json") or request.accept_mimetypes.best == "application/json"


def _wants_json() -> bool:
    """The API, the admin's ``.json`` polling addresses, and a client asking for JSON get errors as
    ``{"errors": {field: [reasons]}}``; everyone else the styled page."""
    return request.path.startswith(api.bp.url_prefix + "/") or _asks_for_json()


def _security_headers(response):
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if request.endpoint != "static":
        headers.setdefault("Cache-Control", "no-store")  # account data must not sit in any cache
    return response


def _init_errors(app: Flask) -> None:
    messages = {
        400: ("Bad request", "The request could not be understood."),
        403: ("Not allowed", "Your role does not give access to this page."),
        404: ("Not found", "There is nothing here, or it belongs to another account."),
        405: ("Not allowed", "This address does not accept that method."),
        409: ("Conflict", "This cannot be done while the page's object is in its current state."),
        413: ("Too large", "The request is too large."),
        500: ("Server error", "Something went wrong on our side; the error was logged."),
    }

    def render(code: int, detail: str | None = None, exc: Exception | None = None):
        title, text = messages[code]
        if _wants_json():
            response = error_response(code, {general_field(code): [detail or text]})
        else:
            response = make_response(render_template("error.html", code=code, title=title, text=detail or text), code)
        allowed = getattr(exc, "valid_methods", None)
        if code == 405 and allowed:  # RFC 9110: a 405 names the methods the address does take
            response.headers["Allow"] = ", ".join(sorted(allowed))
        return response

    for code in messages:  # a conflict or a bad request says what is wrong (``abort(409, description=...)``)
        app.register_error_handler(
            code, lambda exc, code=code: render(code, exc.description if code in (400, 409) else None, exc))

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError):
        return render(400, f"The form expired or was not sent from this site ({exc.description}). "
                           "Go back, reload the page and try again.")
