"""The Eloqua connection settings users fill in (spec §1): the site (company name typed at login),
then either a user and password (Basic; the backslash form ``site\\user`` is built for them) or
an OAuth app from Settings > AppCloud Developer (client id and secret) with a refresh token — or
with the user and password, which the password grant turns into the first refresh token. The
base URL is never configured: ``/id`` on the login URL tells where the site lives."""
from __future__ import annotations

from typing import Any, Callable, Mapping

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from .client import EloquaClient
from .discovery import LOGIN_URL
from .tokens import TokenSet, TokenStore


class EloquaConnection(Schema):
    site = fields.String(required=True, validate=validate.Length(min=1, max=100), metadata={
        "label": "Company (site) name", "order": 1, "description": "The company name you type when you log in to Eloqua"})
    username = fields.String(load_default=None, allow_none=True, metadata={
        "label": "User name", "order": 2,
        "description": "Of an Eloqua user with API access (Basic authentication, or the OAuth password grant)"})
    password = fields.String(load_default=None, allow_none=True, metadata={
        "label": "Password", "secret": True, "order": 3})
    client_id = fields.String(load_default=None, allow_none=True, metadata={
        "label": "OAuth client ID", "order": 4,
        "description": "Of the app registered under Settings > AppCloud Developer; leave empty for Basic authentication"})
    client_secret = fields.String(load_default=None, allow_none=True, metadata={
        "label": "OAuth client secret", "secret": True, "order": 5})
    refresh_token = fields.String(load_default=None, allow_none=True, metadata={
        "label": "OAuth refresh token", "secret": True, "order": 6,
        "description": "From authorising the app; it changes on every use and the connector keeps the new one"})
    login_url = fields.Url(load_default=LOGIN_URL, require_tld=False, validate=validate.Length(max=300), metadata={
        "label": "Login URL", "order": 7, "description": "Where /id and the OAuth endpoints live; rarely changed"})

    @validates_schema
    def one_way_to_sign_in(self, data: dict[str, Any], **_: Any) -> None:
        basic = bool(data.get("username")) and bool(data.get("password"))
        if data.get("client_id") or data.get("client_secret") or data.get("refresh_token"):
            if not (data.get("client_id") and data.get("client_secret")):
                raise ValidationError("OAuth needs both the client ID and the client secret", "client_secret")
            if not (data.get("refresh_token") or basic):
                raise ValidationError("OAuth needs a refresh token (or a user name and password for the password "
                                      "grant)", "refresh_token")
        elif not basic:
            raise ValidationError("Give a user name and password, or an OAuth client with a refresh token",
                                  "password")


def auth_method(connection: Mapping[str, Any]) -> str:
    return "oauth" if connection.get("client_id") else "basic"


def client_for(connection: Mapping[str, Any], *, token_store: TokenStore | Callable[[TokenSet], None] | None = None,
               **options: Any) -> EloquaClient:
    """A client for the connection settings of a plugin configuration. Pass ``token_store`` to
    keep the OAuth refresh token chain where it survives the process (the core's job)."""
    return EloquaClient.from_connection(connection, token_store=token_store, **options)
