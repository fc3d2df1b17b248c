"""Hook implementations: the Eloqua application (job types come with the Eloqua connector)."""
from marshmallow import Schema, fields, validate

from connectors import Application, hookimpl


class EloquaConnection(Schema):
    """Basic authentication as ``site\\user``; the base URL is discovered through /id."""

    site = fields.String(required=True, metadata={"label": "Company (site) name", "order": 1})
    username = fields.String(required=True, metadata={"label": "User name", "order": 2})
    password = fields.String(required=True, metadata={"label": "Password", "secret": True, "order": 3})
    login_url = fields.Url(load_default="https://login.eloqua.com", require_tld=False,
                           validate=validate.Length(max=300), metadata={"label": "Login URL", "order": 4})


@hookimpl
def register_applications(register):
    register(Application(name="eloqua", label="Oracle Eloqua", connection_schema=EloquaConnection,
                         description="Oracle Eloqua marketing automation"))
