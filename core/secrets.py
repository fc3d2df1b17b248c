"""Secrets at rest: connection secrets are kept as one Fernet token, keyed from the secret key."""
from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken


class SecretBox:
    def __init__(self, secret_key: str):
        digest = hashlib.sha256(("connectors-secrets:" + secret_key).encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    def seal(self, values: dict[str, Any]) -> str | None:
        return self._fernet.encrypt(json.dumps(values).encode()).decode() if values else None

    def open(self, token: str | None) -> dict[str, Any]:
        if not token:
            return {}
        try:
            return json.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken:
            raise ValueError("stored secrets cannot be decrypted with this CONNECTORS_SECRET_KEY") from None


def secret_field_names(schema_cls) -> set[str]:
    """Fields of a connection schema marked ``metadata={"secret": True}``."""
    return {name for name, f in schema_cls().fields.items() if f.metadata.get("secret")}


def split_secrets(schema_cls, values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    secret = secret_field_names(schema_cls)
    plain = {k: v for k, v in values.items() if k not in secret}
    hidden = {k: v for k, v in values.items() if k in secret}
    return plain, hidden
