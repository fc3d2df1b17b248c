"""Oracle Eloqua connector plugin for Connectors."""
__version__ = "0.1.0"
