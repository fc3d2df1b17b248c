"""Marketo connector plugin: a REST client, job types and a local Marketo sandbox."""
__version__ = "0.1.0"
