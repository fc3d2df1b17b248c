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
        if value == "":
            value = None
        return TRANSFORMS[self.transform](value) if value is not None else None


class Mappings:
    """The mappings of one plugin configuration, with ``apply`` for each direction."""

    def __init__(self, mappings: Iterable[Mapping]):
        self.all = tuple(mappings)
        self.inbound = tuple(m for m in self.all if m.direction == "inbound")
        self.outbound = tuple(m for m in self.all if m.direction == "outbound")

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

    def apply(self, direction: str, record: dict[str, Any], prefix: str | None = None) -> dict[str, Any]:
        """Inbound: remote record -> {certain_field: value}; outbound: the reverse.

        With ``prefix`` ("profile"), inbound keeps only that object's fields, without the prefix."""
        out: dict[str, Any] = {}
        for m in self._of(direction):
            source, target = (m.remote_field, m.certain_field) if direction == "inbound" else (m.certain_field, m.remote_field)
            if source in record:
                out[target] = m.convert(record[source])
        return section(out, prefix) if prefix else out

    def missing_required(self, direction: str, mapped: dict[str, Any]) -> list[str]:
        """Required Certain (inbound) or remote (outbound) fields left empty by ``apply``."""
        names = [(m.certain_field if direction == "inbound" else m.remote_field) for m in self._of(direction) if m.required]
        return [n for n in names if mapped.get(n) in (None, "")]


def section(mapped: dict[str, Any], prefix: str) -> dict[str, Any]:
    """``{"profile.email": x, "registration.y": z}`` -> ``{"email": x}`` for prefix "profile"."""
    head = prefix + "."
    return {k[len(head):]: v for k, v in mapped.items() if k.startswith(head)}
