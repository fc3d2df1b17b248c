"""The login host (spec §1.2, §1.3, §7.1): ``GET /id`` (who am I, and where does my site live),
``POST /auth/oauth2/token`` (password, refresh_token and authorization_code grants) and a minimal
``GET /auth/oauth2/authorize``."""
from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode

from connectors.sandbox import Request, Response, Routes, json_response

from .identity import OAuthRefused
from .responses import plain

if TYPE_CHECKING:  # pragma: no cover
    from .app import EloquaSandbox

NOT_AUTHENTICATED = "Not authenticated."


def routes(sandbox: "EloquaSandbox") -> Routes:
    table = Routes()

    def whoami(request: Request) -> Response:
        user, _scheme = sandbox.identity.caller(request.header("Authorization"))
        if user is None:
            return json_response(NOT_AUTHENTICATED, sandbox.id_refusal_status, codes=("not-authenticated",))
        base = sandbox.pod_url(sandbox.pod)
        return json_response({
            "site": {"id": sandbox.identity.site_id, "name": sandbox.identity.site_name},
            "user": user.record(),
            "urls": {"base": base, "apis": {
                "soap": {"standard": f"{base}/API/{{version}}/Service.svc",
                         "dataTransfer": f"{base}/API/{{version}}/DataTransferService.svc",
                         "email": f"{base}/API/{{version}}/EmailService.svc",
                         "externalAction": f"{base}/API/{{version}}/ExternalActionService.svc"},
                "rest": {"standard": f"{base}/API/REST/{{version}}/", "bulk": f"{base}/API/Bulk/{{version}}/"}}},
        })

    def token(request: Request) -> Response:
        app = sandbox.identity.app(*_client_credentials(request))
        if app is None:
            return _oauth_error(401, "invalid_client", "Client authentication failed")
        values = _body(request)
        grant = values.get("grant_type")
        try:
            if grant == "password":
                issued = sandbox.identity.password_grant(app, values.get("username", ""), values.get("password", ""))
            elif grant == "refresh_token":
                issued = sandbox.identity.refresh_grant(app, values.get("refresh_token", ""))
            elif grant == "authorization_code":
                issued = sandbox.identity.code_grant(app, values.get("code", ""), values.get("redirect_uri"))
            else:
                return _oauth_error(400, "unsupported_grant_type", f"Grant type {grant!r} is not supported")
        except OAuthRefused as exc:
            return _oauth_error(exc.status, exc.error, exc.description)
        return json_response(issued, headers={"Cache-Control": "no-store"}, codes=(grant,))

    def authorize(request: Request) -> Response:
        client_id = request.arg("client_id") or ""
        app = sandbox.identity.apps.get(client_id)
        if app is None:
            return plain(400, "Unknown client_id")
        redirect = request.arg("redirect_uri") or app.redirect_uri
        user = next(iter(sandbox.identity.users.values()))
        state = {"state": request.arg("state")} if request.arg("state") else {}
        if request.arg("response_type") == "token":  # implicit grant
            issued = sandbox.identity.issue(user, client_id)
            fragment = urlencode({"access_token": issued["access_token"], "token_type": "bearer",
                                  "expires_in": issued["expires_in"], **state})
            return Response(302, {"Location": f"{redirect}#{fragment}"})
        code = sandbox.identity.authorize(client_id, redirect, user)
        separator = "&" if "?" in redirect else "?"
        return Response(302, {"Location": f"{redirect}{separator}{urlencode({'code': code, **state})}"})

    table.add("GET", r"(?i)/id", whoami)
    table.add("POST", r"(?i)/auth/oauth2/token", token)
    table.add("GET", r"(?i)/auth/oauth2/authorize", authorize)
    return table


def _client_credentials(request: Request) -> tuple[str | None, str | None]:
    """HTTP Basic ``client_id:client_secret``, as Eloqua requires of the token endpoint."""
    scheme, _, value = (request.header("Authorization") or "").partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None, None
    client_id, _, secret = decoded.partition(":")
    return client_id, secret


def _body(request: Request) -> dict[str, Any]:
    """Form or JSON: peers send both (spec §1.2)."""
    if request.content_type == "application/json":
        try:
            loaded = request.json()
        except ValueError:
            return {}
        return {k: str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}
    parsed = parse_qs(request.body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {k: v[0] for k, v in parsed.items()}


def _oauth_error(status: int, error: str, description: str) -> Response:
    return json_response({"error": error, "error_description": description}, status, codes=(error,))
