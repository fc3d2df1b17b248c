"""API: a run's problems (its failed and skipped records), filtered and paged by the core's
``connectors.jobs.problems``, the module behind the problems view."""
from __future__ import annotations

from connectors.jobs import problems

from . import access
from .api import bp
from .api_schemas import RecordList, RecordQuery
from .api_support import dump, load_query, operation, page_info
from .db import get_db


@bp.get("/runs/<int:run_id>/records")
@operation("A run's problems (failed and skipped records)", tag="runs", query=RecordQuery, response=RecordList,
           errors=(400, 403, 404), description="Filtered as in the problems view, in the order they were recorded. "
                                               "A page past the end gives the last page.")
def list_records(run_id: int):
    db, args = get_db(), load_query(RecordQuery)
    run = access.run_or_404(run_id)
    flt = problems.ProblemFilter(outcome=args["outcome"], stage=args["stage"], code=args["code"],
                                 text=args["text"].strip(), show=args["show"])
    shown = problems.page(db, run, flt, args["page"], args["per_page"])
    return dump(RecordList, {"records": [{"id": r.id, "record_key": r.record_key, "outcome": r.outcome,
                                          "stage": r.stage, "code": r.code, "message": r.message,
                                          "created_at": r.created_at, "dismissed_at": r.dismissed_at,
                                          "dismissed_by": r.dismissed_by} for r in shown.records],
                             "page": page_info(shown.page, shown.per_page, shown.total)})
