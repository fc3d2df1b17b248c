"""The Marketo connection settings users fill in (Admin > Integration > Web Services)."""
from __future__ import annotations

from typing import Any, Mapping

from marshmallow import Schema, fields, validate

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
    calls_per_window = fields.Integer(load_default=50, validate=validate.Range(min=1, max=100), metadata={
        "label": "Calls per window", "order": 6,
        "description": "Most API calls this integration makes per window; Marketo allows 100 per 20 s "
                       "for the whole instance and advises one integration to use at most 50"})
    window_seconds = fields.Float(load_default=20.0, validate=validate.Range(min=0.1, max=3600), metadata={
        "label": "Window (seconds)", "order": 7, "description": "Length of the rate window; Marketo's is 20 s"})
    max_concurrency = fields.Integer(load_default=2, validate=validate.Range(min=1, max=10), metadata={
        "label": "Concurrent calls", "order": 8,
        "description": "Most calls in flight at once; Marketo allows 10 per instance, most integrations need 1 or 2"})
    daily_budget = fields.Integer(load_default=40_000, allow_none=True, validate=validate.Range(min=1), metadata={
        "label": "Daily call budget", "order": 9,
        "description": "Jobs stop cleanly once today's API usage (all integrations) reaches this many calls; "
                       "keep it under the subscription's daily quota (usually 50,000). Empty: no budget"})


def client_for(connection: Mapping[str, Any], **options: Any) -> MarketoClient:
    """A client for the connection settings of a plugin configuration."""
    return MarketoClient.from_connection(connection, **options)
