"""Export filters in Eloqua Expression Language (spec §3.4):
``'{{Contact.Field(C_Country)}}' = 'Belgium' AND NOT '{{Contact.UpdatedAt}}' < '2026-01-01 00:00:00'``,
operators ``= != > >= < <= ~`` (``~`` is SQL LIKE), ``AND OR NOT``, parentheses, and at most one
``EXISTS('{{ContactList[n]}}')`` or ``EXISTS('{{ContactSegment[n]}}')``; 1000 characters at most. ``compile_filter`` turns the text
into a predicate over records, or raises ``BadFilter`` with what Eloqua would say."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Callable

from . import statements as st

if TYPE_CHECKING:  # pragma: no cover
    from .app import EloquaSandbox

MAX_LENGTH = 1000
Predicate = Callable[[Any], bool]
_TOKEN = re.compile(r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<op>!=|>=|<=|=|>|<|~)|(?P<paren>[()])"
                    r"|(?P<word>[A-Za-z]+))")
_MEMBERSHIP = re.compile(r"\{\{(?P<kind>ContactList|ContactSegment)\[(?P<id>\d+)\]\}\}", re.IGNORECASE)


class BadFilter(ValueError):
    pass


def compile_filter(text: str | None, entity: str, parent: int | None, sandbox: "EloquaSandbox",
                   utc: bool = True) -> Predicate:
    if not text or not text.strip():
        return lambda record: True
    if len(text) > MAX_LENGTH:
        raise BadFilter(f"Must be at most {MAX_LENGTH} characters long.")
    parser = _Parser(_tokens(text), entity, parent, sandbox, utc)
    predicate = parser.expression()
    if parser.position != len(parser.tokens):
        raise BadFilter(f"Unexpected {parser.tokens[parser.position][1]!r}.")
    return predicate


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    while position < len(text):
        if not text[position:].strip():
            break
        found = _TOKEN.match(text, position)
        if found is None:
            raise BadFilter(f"Cannot read the filter at {text[position:position + 20]!r}.")
        kind = found.lastgroup
        value = found[kind]
        if kind == "string":
            value = value[1:-1].replace("''", "'")
        elif kind == "word":
            value = value.upper()
        tokens.append((kind, value))
        position = found.end()
    return tokens


class _Parser:
    def __init__(self, tokens, entity, parent, sandbox, utc):
        self.tokens, self.position = tokens, 0
        self.entity, self.parent, self.sandbox, self.utc = entity, parent, sandbox, utc
        self.exists_used = False

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, kind: str, value: str | None = None) -> str:
        token = self.peek()
        if token is None or token[0] != kind or (value is not None and token[1] != value):
            raise BadFilter(f"Expected {value or kind}.")
        self.position += 1
        return token[1]

    def expression(self) -> Predicate:
        parts = [self.term()]
        while self.peek() == ("word", "OR"):
            self.position += 1
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else (lambda r: any(p(r) for p in parts))

    def term(self) -> Predicate:
        parts = [self.factor()]
        while self.peek() == ("word", "AND"):
            self.position += 1
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else (lambda r: all(p(r) for p in parts))

    def factor(self) -> Predicate:
        token = self.peek()
        if token == ("word", "NOT"):
            self.position += 1
            inner = self.factor()
            return lambda r: not inner(r)
        if token == ("paren", "("):
            self.position += 1
            inner = self.expression()
            self.take("paren", ")")
            return inner
        if token in (("word", "EXISTS"), ("word", "STATUS")):
            return self.exists()
        return self.comparison()

    def exists(self) -> Predicate:
        word = self.take("word")
        if self.exists_used:
            raise BadFilter("Only one EXISTS or STATUS is allowed in a filter.")
        self.exists_used = True
        self.take("paren", "(")
        target = self.take("string")
        self.take("paren", ")")
        found = _MEMBERSHIP.fullmatch(target.strip())
        if word != "EXISTS" or found is None or self.entity != st.CONTACTS:
            raise BadFilter(f"{word}('{target}') is not supported by the sandbox.")
        sets = self.sandbox.lists.lists if found["kind"].lower() == "contactlist" else self.sandbox.segments.segments
        members = sets.get(int(found["id"]))
        if members is None:
            raise BadFilter(f"{target} does not exist.")
        return lambda record: record.id in members.members

    def comparison(self) -> Predicate:
        left = self.take("string")
        op = self.take("op")
        right = self.take("string")
        try:
            statement = st.parse(left, self.entity, self.parent, self.sandbox)
        except st.BadStatement as exc:
            raise BadFilter(str(exc)) from None
        if statement.is_date:
            moment = st.parse_stamp(right, self.utc)
            if moment is None:
                raise BadFilter(f"'{right}' is not a date (YYYY-MM-DD hh:mm:ss).")
            return lambda r: _compare(st.raw_value(statement, r), op, moment)
        sandbox, utc = self.sandbox, self.utc
        return lambda r: _compare(st.read(statement, r, sandbox, utc), op, right)


def _compare(actual: Any, op: str, expected: Any) -> bool:
    if op == "~":
        pattern = "^" + "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in str(expected)) + "$"
        return re.match(pattern, str(actual or ""), re.IGNORECASE | re.DOTALL) is not None
    left, right = _comparable(actual), _comparable(expected)
    if type(left) is not type(right):
        left, right = str(actual or "").lower(), str(expected).lower()
    return {"=": left == right, "!=": left != right, ">": left > right, ">=": left >= right,
            "<": left < right, "<=": left <= right}[op]


def _comparable(value: Any) -> float | str:
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return str(value or "").lower()
