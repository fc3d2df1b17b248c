"""The Marketo connection settings users fill in (Admin > Integration > Web Services)."""
from __future__ import annotations

from typing import Any, Mapping

from marshmallow import Schema, fields

from .client import MarketoClient


class MarketoConnectionSchema(Schema):
    rest_endpoint = fields.Url(required=True, require_tld=False, metadata={
        "label": "REST endpoint", "order": 1,
        "description": "From Admin > Web Services, e.g. https://284-RPR-133.mktorest.com/rest"})
    identity_endpoint = fields.Url(required=True, require_tld=False, metadata={
        "label": "Identity endpoint", "order": 2,
        "description": "From Admin > Web Services, e.g. https://284-RPR-133.mktorest.com/identity"})
    client_id = fields.String(required=True, metadata={
        "label": "Client ID", "order": 3, "description": "Of the LaunchPoint custom service for this integration"})
    client_secret = fields.String(required=True, metadata={
        "label": "Client secret", "order": 4, "secret": True, "description": "Of the same custom service"})
    munchkin_id = fields.String(load_default=None, allow_none=True, metadata={
        "label": "Munchkin ID", "order": 5, "description": "Optional, e.g. 284-RPR-133; for reference"})


def client_for(connection: Mapping[str, Any], **options: Any) -> MarketoClient:
    """A client for the connection settings of a plugin configuration."""
    return MarketoClient.from_connection(connection, **options)
