"""``python -m connectors``: the same as the ``connectors`` command."""
import sys

from .cli import main

sys.exit(main())
