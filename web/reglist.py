"""The Registrations list of one event: search, status filter, sort and pages, in two queries
(the page's rows and their count), whatever the event's size."""
from __future__ import annotations

import math
from dataclasses import dataclass

from flask_wtf import FlaskForm
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from wtforms import IntegerField, SelectField, StringField
from wtforms.validators import Length, NumberRange, Optional, ValidationError

from connectors.models import Event, Profile, Registration

from .paramforms import choices_of

PAGE_SIZE = 25
#: Sort keys offered on the page, each with the columns it orders by.
SORTS = {
    "code": ("Registration code", (Registration.registration_code,)),
    "name": ("Name", (func.lower(func.coalesce(Profile.last_name, "")), func.lower(func.coalesce(Profile.first_name, "")))),
    "email": ("E-mail", (func.lower(func.coalesce(Profile.email, "")),)),
    "status": ("Status", (Registration.status_label,)),
    "modified": ("Last modified", (Registration.date_modified,)),
}
DIRECTIONS = {"asc": "Ascending", "desc": "Descending"}


def _one_of_choices(expected: str):
    """A select's value must be one it offers; the reason names what it accepts."""
    def check(form, field) -> None:
        if field.data and field.data not in {choice.value for choice in field.choices}:
            raise ValidationError(f"{field.data!r} is not {expected}")
    return check


class FilterForm(FlaskForm):
    """The list's GET form: read from the query string, so no CSRF token (it changes nothing)."""

    class Meta:
        csrf = False

    q = StringField("Search", validators=[Optional(), Length(max=200, message="at most 200 characters")],
                    description="E-mail, name or registration code; part of it is enough.")
    status = SelectField("Status", validate_choice=False, validators=[Optional(), _one_of_choices("a status of this event")])
    sort = SelectField("Sort by", choices=choices_of((key, label) for key, (label, _) in SORTS.items()), default="code",
                       validate_choice=False, validators=[_one_of_choices("one of: " + ", ".join(SORTS))])
    direction = SelectField("Order", choices=choices_of(DIRECTIONS.items()), default="asc",
                            validate_choice=False, validators=[_one_of_choices("asc or desc")])
    page = IntegerField("Page", validators=[Optional(), NumberRange(min=1, message="must be 1 or more")], default=1)


def filter_form(formdata, statuses: list[str]) -> FilterForm:
    form = FilterForm(formdata=formdata)
    form.status.choices = choices_of([("", "Any status")] + [(label, label) for label in statuses])
    return form


@dataclass(frozen=True)
class ListPage:
    rows: list[tuple[Registration, Profile]]
    total: int        # registrations that match the search and filter
    page: int
    pages: int

    @property
    def first(self) -> int:
        return (self.page - 1) * PAGE_SIZE + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return self.first + len(self.rows) - 1 if self.rows else 0


def search(db: Session, event: Event, *, q: str = "", status: str = "", sort: str = "code", direction: str = "asc",
           page: int = 1) -> ListPage:
    """One page of the event's registrations with their profiles; a page past the end shows the last."""
    where = [Registration.event_id == event.id]
    if q:
        needle = q.strip().lower()
        full_name = func.coalesce(Profile.first_name, "") + " " + func.coalesce(Profile.last_name, "")
        where.append(func.lower(Profile.email).contains(needle, autoescape=True)
                     | func.lower(full_name).contains(needle, autoescape=True)
                     | func.lower(Profile.last_name).contains(needle, autoescape=True)
                     | func.lower(Registration.registration_code).contains(needle, autoescape=True))
    if status:
        where.append(Registration.status_label == status)
    joined = select(Registration, Profile).join(Profile, Profile.id == Registration.profile_id).where(*where)
    total = db.scalar(select(func.count()).select_from(joined.subquery())) or 0
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(max(page, 1), pages)
    columns = SORTS[sort][1] if sort in SORTS else SORTS["code"][1]
    order = [c.desc() if direction == "desc" else c.asc() for c in columns]
    order.append(Registration.id.desc() if direction == "desc" else Registration.id.asc())  # stable across pages
    rows = [tuple(row) for row in db.execute(joined.order_by(*order).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE))]
    return ListPage(rows, total, page, pages)
