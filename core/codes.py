"""Random public codes: profile pins (``P…``) and registration codes (``R…``).

12 characters from a 32-letter alphabet (no 0/O, 1/I) give 32¹² ≈ 1.2 × 10¹⁸ values: two million
codes collide with a chance of about 2 × 10⁻⁶ (the birthday bound), and the store still retries a
batch whose codes did (``core/new_rows.py``), so a collision costs a retry, never a run.
Since 256 is a multiple of 32, ``byte % 32`` picks every letter with the same chance.
"""
from __future__ import annotations

import secrets
from typing import Callable

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 12
_BYTE_TO_LETTER = bytes(ord(CODE_ALPHABET[b % 32]) for b in range(256))


class CodeGenerator:
    """Draws codes from ``random_bytes(n)``: one call for a whole batch, not one per character.

    ``random_bytes`` is the seam for tests that need to know the next codes (to make them collide);
    production uses ``secrets.token_bytes``."""

    def __init__(self, random_bytes: Callable[[int], bytes] = secrets.token_bytes, length: int = CODE_LENGTH):
        self._random_bytes = random_bytes
        self.length = length

    def draw(self, prefix: str, count: int) -> list[str]:
        """``count`` codes, distinct from each other."""
        codes: list[str] = []
        seen: set[str] = set()
        while len(codes) < count:
            letters = self._random_bytes((count - len(codes)) * self.length).translate(_BYTE_TO_LETTER).decode("ascii")
            for i in range(0, len(letters), self.length):
                code = prefix + letters[i:i + self.length]
                if code not in seen:
                    seen.add(code)
                    codes.append(code)
        return codes


DEFAULT_CODES = CodeGenerator()


def new_code(prefix: str) -> str:
    """One code, for callers that create a single row (demo data, forms)."""
    return DEFAULT_CODES.draw(prefix, 1)[0]
