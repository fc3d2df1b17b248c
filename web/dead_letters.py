"""The "Dead letters" page: messages the bus gave up on, for administrators to read, replay or drop.

A dead letter is an operator's concern, but its body can carry another account's ids: an
administrator sees only those whose payload resolved to their own account when they were
recorded (``connectors.dead_letters``); the rest — unreadable bodies, ids that resolve to
nothing — only ``connectors dead-letters`` shows. Another account's dead letter is a 404 here.
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from connectors import dead_letters
from connectors.models import DEAD_LETTER_STATUSES

from .auth import admin_required
from .converters import id_from
from .db import get_db

bp = Blueprint("dead_letters", __name__, url_prefix="/account/dead-letters")  # account level: administrators
STATUS_CHOICES = (*DEAD_LETTER_STATUSES, "all")
PER_PAGE = 50


@bp.get("/")
@admin_required
def index():
    status = request.args.get("status", "open")
    if status not in STATUS_CHOICES:
        abort(400, description=f"status must be one of {', '.join(STATUS_CHOICES)}")
    queue = request.args.get("queue") or None
    page_number = id_from(request.args.get("page", 1)) or 1  # past the end: an empty page, never an overflow
    db = get_db()
    page = dead_letters.list_dead_letters(db, status=None if status == "all" else status, queue=queue,
                                          account_id=current_user.account_id, page=page_number, per_page=PER_PAGE)
    return render_template("dead_letters/list.html", page=page, status=status, queue=queue,
                           statuses=STATUS_CHOICES, queues=dead_letters.queues(db))


@bp.get("/<int:letter_id>")
@admin_required
def detail(letter_id: int):
    letter = _own(letter_id)
    return render_template("dead_letters/detail.html", letter=letter, body=dead_letters.pretty_body(letter),
                           explained=dead_letters.explain(letter.reason), run=dead_letters.run_of(get_db(), letter))


@bp.post("/<int:letter_id>/replay")
@admin_required
def replay(letter_id: int):
    return _act(letter_id, dead_letters.replay, "Replayed: the message goes to its original exchange again.")


@bp.post("/<int:letter_id>/drop")
@admin_required
def drop(letter_id: int):
    return _act(letter_id, dead_letters.drop, "Dropped: kept for the record, no longer listed as open.")


def _own(letter_id: int):
    letter = dead_letters.get(get_db(), letter_id, account_id=current_user.account_id)
    if letter is None:
        abort(404)
    return letter


def _act(letter_id: int, action, done: str):
    db = get_db()
    letter = _own(letter_id)
    try:
        action(db, letter, str(current_user.id))
    except dead_letters.DeadLetterError as exc:  # already handled, or not replayable: say why, change nothing
        db.rollback()
        flash(f"Dead letter {letter_id} was not changed: {exc}.", "error")
    else:
        db.commit()
        flash(done, "success")
    return redirect(url_for(".detail", letter_id=letter_id))


def init_app(app) -> None:
    """The page and, beside it, ``/metrics`` (whose only figure today is the dead letters' count)."""
    from . import metrics  # noqa: PLC0415 - registered together, one line in create_app

    app.register_blueprint(bp)
    app.register_blueprint(metrics.bp)
