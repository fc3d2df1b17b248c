"""What the REST helpers share: paging through ``{elements, page, pageSize, total}`` and writing
``search`` terms Eloqua reads (values quoted; the value is URL-encoded by ``requests``, so a ``+``
in an email survives — the classic lookup bug of spec §2.2)."""
from __future__ import annotations

from typing import Any, Callable, Iterator

MAX_COUNT = 1000


def term(name: str, value: Any, op: str = "=") -> str:
    text = str(value)
    return f"{name}{op}{text}" if "'" in text else f"{name}{op}'{text}'"


def pages(fetch: Callable[[dict[str, Any]], Any], params: dict[str, Any], count: int = MAX_COUNT,
          first_page: int = 1) -> Iterator[dict[str, Any]]:
    """Every element, page by page (``count`` at most 1000): one page in memory at a time."""
    if not 1 <= count <= MAX_COUNT:
        raise ValueError(f"count must be 1..{MAX_COUNT}")
    page = first_page
    while True:
        body = fetch({**params, "page": page, "count": count}) or {}
        elements = body.get("elements") or []
        yield from elements
        total = int(body.get("total") or 0)
        if not elements or page * count >= total:
            return
        page += 1
