"""Query parameters as Eloqua reads them: REST ``page``/``count``/``depth``/``search`` (spec §2.1)
and Bulk ``limit``/``offset``/``q`` (spec §3), with their limits and their 400 answers."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

from connectors.sandbox import Request

from .responses import ApiError, bulk_invalid, failure, invalid, parameter_error

MAX_COUNT = 1000
MAX_BULK_LIMIT = 1000
DEPTHS = ("minimal", "partial", "complete")
_TERM = re.compile(r"\s*(?:(?P<term>[A-Za-z_][\w.]*)\s*(?P<op>!=|>=|<=|=|>|<)\s*)?"
                   r"(?:'(?P<quoted>[^']*)'|\"(?P<dquoted>[^\"]*)\"|(?P<bare>[^\s'\"]\S*))\s*(?:\bAND\b\s*)?",
                   re.IGNORECASE)


@dataclass(frozen=True)
class Paging:
    page: int
    count: int
    depth: str

    def slice(self, items: Sequence) -> list:
        start = (self.page - 1) * self.count
        return list(items[start:start + self.count])


def rest_paging(request: Request, default_depth: str = "minimal") -> Paging:
    page = int_param(request, "page", 1, minimum=1)
    count = int_param(request, "count", MAX_COUNT, minimum=1)
    if count > MAX_COUNT:
        raise invalid(parameter_error("count", "IntegerRangeRequirement", count, minimum=1, maximum=MAX_COUNT))
    depth = (request.arg("depth") or default_depth).lower()
    if depth not in DEPTHS:
        raise invalid(parameter_error("depth", "EnumRequirement", depth))
    return Paging(page, count, depth)


def int_param(request: Request, name: str, default: int, minimum: int) -> int:
    raw = request.arg(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid(parameter_error(name, "IntegerRequirement", raw)) from None
    if value < minimum:
        raise invalid(parameter_error(name, "IntegerRangeRequirement", value, minimum=minimum))
    return value


# -- REST search ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Term:
    name: str  # "name" when the search names no field
    op: str
    value: str

    def matches(self, actual: str | None) -> bool:
        return compare(actual, self.op, self.value)


def parse_search(text: str | None) -> list[Term]:
    """``emailAddress='a@b.com'``, ``C_Country=Belgium``, ``updatedAt>'1403034086'``, ``name='X*'``,
    several terms (blank- or ``AND``-separated) all apply."""
    if not text or not text.strip():
        return []
    terms, position = [], 0
    while position < len(text):
        found = _TERM.match(text, position)
        if found is None or found.end() == position:
            raise invalid(parameter_error("search", "SearchRequirement", text))
        value = next(v for v in (found["quoted"], found["dquoted"], found["bare"]) if v is not None)
        terms.append(Term(found["term"] or "name", found["op"] or "=", value))
        position = found.end()
    return terms


def compare(actual: str | None, op: str, expected: str) -> bool:
    """Eloqua's comparison: numbers as numbers, text without case; ``*`` is a wildcard for ``=``/``!=``."""
    actual = actual or ""
    if op in ("=", "!="):
        if "*" in expected:
            pattern = "^" + ".*".join(re.escape(p) for p in expected.split("*")) + "$"
            hit = re.match(pattern, actual, re.IGNORECASE | re.DOTALL) is not None
        else:
            hit = actual.lower() == expected.lower()
        return hit if op == "=" else not hit
    left, right = _comparable(actual), _comparable(expected)
    if type(left) is not type(right):
        left, right = str(left), str(right)
    return {">": left > right, "<": left < right, ">=": left >= right, "<=": left <= right}[op]


def _comparable(value: str) -> float | str:
    try:
        return float(value)
    except ValueError:
        return value.lower()


def filtered(items: Sequence, terms: list[Term], value_of: Callable[[object, str], str | None]) -> list:
    return [item for item in items if all(t.matches(value_of(item, t.name)) for t in terms)]


# -- Bulk ------------------------------------------------------------------------------------------
def bulk_window(request: Request, default_limit: int = MAX_BULK_LIMIT, max_limit: int = MAX_BULK_LIMIT
                ) -> tuple[int, int]:
    """(limit, offset) of a Bulk listing; out of range -> 400 ``failures``."""
    values = {}
    for name, default, low in (("limit", default_limit, 1), ("offset", 0, 0)):
        raw = request.arg(name)
        try:
            values[name] = default if raw in (None, "") else int(raw)
        except ValueError:
            raise bulk_invalid(failure(name, "Must be an integer.", raw)) from None
        if values[name] < low:
            raise bulk_invalid(failure(name, f"Must be at least {low}.", values[name]))
    if values["limit"] > max_limit:
        raise bulk_invalid(failure("limit", f"Must be a integer value between 1 and {max_limit}.", values["limit"]))
    return values["limit"], values["offset"]


def bulk_q(request: Request) -> list[Term]:
    """``q="name='X*'"`` (the outer quotes are part of what clients send, or not)."""
    raw = (request.arg("q") or "").strip()
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        raw = raw[1:-1]
    try:
        return parse_search(raw)
    except ApiError:  # REST's error shape does not apply here
        raise bulk_invalid(failure("q", "Must be a valid query.", raw)) from None
