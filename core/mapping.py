"""Field mappings as pure values: which remote field feeds which Certain field, and how."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

TRANSFORMS: dict[str, Callable[[Any], Any]] = {
    "none": lambda v: v,
    "trim": lambda v: v.strip() if isinstance(v, str) else v,
    "lowercase": lambda v: v.strip().lower() if isinstance(v, str) else v,
    "uppercase": lambda v: v.strip().upper() if isinstance(v, str) else v,
}


@dataclass(frozen=True)
class Mapping:
    direction: str
    certain_field: str  # dotted: "profile.email", "registration.status_label"
    remote_field: str
    transform: str = "none"
    update_policy: str = "overwrite"
    is_match_key: bool = False
    required: bool = False

    def convert(self, value: Any) -> Any:
        return _converter(self.transform)(value)


#: ``(source field, target field, convert)``: one mapping resolved for one direction
Rule = tuple[str, str, Callable[[Any], Any]]


def _converter(transform: str) -> Callable[[Any], Any]:
    """The mapping's conversion: empty strings and None become None, the rest goes through the transform."""
    change = TRANSFORMS.get(transform)

    def convert(value: Any) -> Any:
        if value is None or value == "":
            return None
        return change(value) if change is not None else TRANSFORMS[transform](value)  # unknown: KeyError, as ever
    return convert


class Mappings:
    """The mappings of one plugin configuration, with ``apply`` for each direction."""

    def __init__(self, mappings: Iterable[Mapping]):
        self.all = tuple(mappings)
        self.inbound = tuple(m for m in self.all if m.direction == "inbound")
        self.outbound = tuple(m for m in self.all if m.direction == "outbound")
        self._rules = {"inbound": tuple((m.remote_field, m.certain_field, _converter(m.transform)) for m in self.inbound),
                       "outbound": tuple((m.certain_field, m.remote_field, _converter(m.transform)) for m in self.outbound)}

    def _of(self, direction: str) -> tuple[Mapping, ...]:
        if direction not in ("inbound", "outbound"):
            raise ValueError(f"direction must be inbound or outbound, not {direction!r}")
        return self.inbound if direction == "inbound" else self.outbound

    def remote_fields(self, direction: str) -> list[str]:
        return [m.remote_field for m in self._of(direction)]

    def certain_fields(self, direction: str) -> list[str]:
        return [m.certain_field for m in self._of(direction)]

    def match_key(self, direction: str) -> Mapping | None:
        return next((m for m in self._of(direction) if m.is_match_key), None)

    def policies(self, direction: str) -> dict[str, str]:
        return {m.certain_field: m.update_policy for m in self._of(direction)}

    def rules(self, direction: str) -> tuple[Rule, ...]:
        """The direction's mappings resolved once, as ``(source, target, convert)``: what ``apply``
        does per record, for a job that maps many records without building a source dict for each."""
        self._of(direction)
        return self._rules[direction]

    def apply(self, direction: str, record: dict[str, Any], prefix: str | None = None) -> dict[str, Any]:
        """Inbound: remote record -> {certain_field: value}; outbound: the reverse.

        With ``prefix`` ("profile"), inbound keeps only that object's fields, without the prefix."""
        out = {target: convert(record[source]) for source, target, convert in self.rules(direction) if source in record}
        return section(out, prefix) if prefix else out

    def missing_required(self, direction: str, mapped: dict[str, Any]) -> list[str]:
        """Required Certain (inbound) or remote (outbound) fields left empty by ``apply``."""
        names = [(m.certain_field if direction == "inbound" else m.remote_field) for m in self._of(direction) if m.required]
        return [n for n in names if mapped.get(n) in (None, "")]


def section(mapped: dict[str, Any], prefix: str) -> dict[str, Any]:
    """``{"profile.email": x, "registration.y": z}`` -> ``{"email": x}`` for prefix "profile"."""
    head = prefix + "."
    return {k[len(head):]: v for k, v in mapped.items() if k.startswith(head)}
