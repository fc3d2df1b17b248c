"""Account Settings › Third-Party Plugins (``views``) and its forms (``forms``)."""
from .views import bp

__all__ = ["bp"]
