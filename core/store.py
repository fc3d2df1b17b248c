"""The event-platform side as a job sees it: batch reads and idempotent batch upserts.

Every method works on the caller's session (the run's unit of work), so what a batch wrote
commits together with the run's records and checkpoint — or not at all. New rows go in with
multi-row INSERTs (``new_rows``); existing ones are updated through the ORM, one flush per batch.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Iterator

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from . import db, metrics, status_events
from .codes import DEFAULT_CODES, CodeGenerator, new_code  # noqa: F401  (new_code: this module's old home)
from .models import (
    PROFILE_FIELDS, Account, AttendeeType, Event, ExternalId, Profile, Registration, RegistrationStatus, utcnow,
)
from .new_rows import NewRow, insert_new_rows

MATCH_RULES = ("email", "external_key", "none")
_PROFILE_COLUMNS = ("account_id", "custom", "external_ids", *PROFILE_FIELDS)
#: New rows (profiles and registrations) after which the planner's statistics are first refreshed;
#: then after twice as many, and so on: a handful of ANALYZEs for a million leads.
_FIRST_REFRESH = 5_000
_REGISTRATION_COLUMNS = ("event_id", "profile_id", "registration_code", "attendee_type_code", "status_label",
                         "source", "external_ids", "version", "status_changed_at")


@dataclass(frozen=True)
class UpsertResult:
    key: str
    outcome: str  # created | updated | unchanged | skipped | failed
    id: int | None = None
    code: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class EventInfo:
    code: str
    name: str
    timezone: str
    start_date: datetime | None
    end_date: datetime | None


@dataclass(frozen=True)
class RegistrationView:
    """A registration and its person, as outbound jobs read them. ``position`` orders them: save
    the last one handled as a checkpoint and pass it back as ``after`` to resume."""

    registration_code: str
    status_label: str
    attendee_type_code: str
    version: int
    profile: dict[str, Any]
    external_ids: dict[str, Any]
    position: int = 0
    classification: str | None = None
    date_modified: datetime | None = None


class Store:
    def __init__(self, session: Session, account: Account, event: Event | None, actor: dict[str, Any] | None = None,
                 codes: CodeGenerator = DEFAULT_CODES):
        self._session = session
        self._account = account
        self._event = event
        self._actor = actor or {"type": "job", "id": None}
        self._codes = codes
        self._new_rows, self._refresh_at = 0, _FIRST_REFRESH

    @property
    def account_code(self) -> str:
        return self._account.account_code

    @property
    def event(self) -> EventInfo | None:
        e = self._event
        return EventInfo(e.event_code, e.name, e.timezone, e.start_date, e.end_date) if e else None

    def _require_event(self) -> Event:
        if self._event is None:
            raise RuntimeError("this job runs at account level: it has no event")
        return self._event

    # -- catalogues ------------------------------------------------------------------------------
    def attendee_type_codes(self) -> list[str]:
        event = self._require_event()
        return list(self._session.scalars(select(AttendeeType.code).where(AttendeeType.event_id == event.id)))

    def status_labels(self) -> dict[str, str]:
        """label -> classification for the event's status catalogue."""
        event = self._require_event()
        rows = self._session.execute(
            select(RegistrationStatus.label, RegistrationStatus.classification).where(RegistrationStatus.event_id == event.id)
        )
        return dict(rows.all())

    # -- profiles ------------------------------------------------------------------------------
    def upsert_profiles(self, rows: list[dict[str, Any]], match_on: str = "email",
                        policies: dict[str, str] | None = None) -> list[UpsertResult]:
        """Create or update profiles; ``rows`` are ``{"key", "fields", "external_ids"}``.

        A row is matched first by any of its external ids (so re-importing the same remote record
        finds the same profile whatever the rule), then by ``match_on``: ``email``,
        ``external_key``, or ``none`` (create a new profile). An email that already belongs to a
        profile linked to a *different* remote record of the same system is skipped as a
        duplicate rather than merged silently. A new profile gets a random pin unless its
        fields bring one.
        """
        if match_on not in MATCH_RULES:
            raise ValueError(f"match_on must be one of {MATCH_RULES}")
        policies = policies or {}
        by_ext = self._profiles_by_external_id(rows)
        by_key = self._profiles_by_match_field(rows, match_on)
        links = self._links_of({*by_ext.values(), *by_key.values()})
        done: list[tuple[str, str, Profile | NewRow | None, str | None, Any]] = []  # key, outcome, profile, code, message
        new_links: list[tuple[Profile | NewRow, str, str]] = []
        created: list[NewRow] = []
        for row in rows:
            key, fields = str(row["key"]), {k: v for k, v in row.get("fields", {}).items() if k in PROFILE_FIELDS}
            ext = {sys: str(rid) for sys, rid in (row.get("external_ids") or {}).items() if rid not in (None, "")}
            bad = [k for k in row.get("fields", {}) if k not in PROFILE_FIELDS]
            if bad:
                done.append((key, "failed", None, "unknown_field", f"no profile field {bad[0]!r}"))
                continue
            profile = next((by_ext[(sys, rid)] for sys, rid in ext.items() if (sys, rid) in by_ext), None)
            if profile is None and match_on != "none":
                value = _norm(fields.get(match_on))
                if value is None:
                    done.append((key, "skipped", None, f"missing_{match_on}",
                                 f"no {match_on.replace('_', ' ')} to match a profile on"))
                    continue
                profile = by_key.get(value)
                if profile is not None:
                    clash = [(sys, links[profile][sys]) for sys in ext if links[profile].get(sys, ext[sys]) != ext[sys]]
                    if clash:
                        sys, other = clash[0]
                        # the message waits for the pin: a profile created earlier in this batch has none yet
                        done.append((key, "skipped", profile, "duplicate", lambda p, what=f"{match_on} {value}", ext=f"({sys} {other})":
                                     f"{what} already belongs to profile {p.pin} {ext}"))
                        continue
            if profile is None:
                profile = NewRow(account_id=self._account.id, custom={}, external_ids={}, **{**dict.fromkeys(PROFILE_FIELDS), **fields})
                created.append(profile)
                outcome = "created"
            else:
                outcome = "updated" if _apply_fields(profile, fields, policies) else "unchanged"
            linked = self._link(profile, ext, links, new_links)
            if linked and outcome == "unchanged":
                outcome = "updated"
            for sys, rid in ext.items():
                by_ext[(sys, rid)] = profile
            value = _norm(getattr(profile, match_on, None)) if match_on != "none" else None
            if value is not None:
                by_key[value] = profile
            done.append((key, outcome, profile, None, None))
        self._session.flush()  # the updated profiles, in one go
        drawn = [p for p in created if p.pin in (None, "")]  # a pin that came with the record is kept
        for p, pin in zip(drawn, self._codes.draw("P", len(drawn))):
            p.pin = pin
        insert_new_rows(self._session, Profile.__table__, created, columns=_PROFILE_COLUMNS, code="pin", prefix="P",
                        scope="account_id", codes=self._codes, drawn={id(p) for p in drawn})
        self._insert_links([(p.id, sys, rid) for p, sys, rid in new_links])
        self._grew(len(created))
        return [UpsertResult(key, outcome, id=p.id if p is not None else None, code=code,
                             message=message(p) if callable(message) else message)
                for key, outcome, p, code, message in done]

    def _profiles_by_external_id(self, rows) -> dict[tuple[str, str], Profile]:
        found: dict[tuple[str, str], Profile] = {}
        for sys, ids in _remote_ids_by_system(row.get("external_ids") for row in rows).items():
            q = (select(ExternalId.remote_id, Profile).join(Profile, Profile.id == ExternalId.profile_id)
                 .where(ExternalId.account_id == self._account.id, ExternalId.system == sys, ExternalId.remote_id.in_(ids)))
            for rid, profile in self._session.execute(q):
                found[(sys, rid)] = profile
        return found

    def _profiles_by_match_field(self, rows, match_on: str) -> dict[str, Profile]:
        if match_on == "none":
            return {}
        values = {v for row in rows if (v := _norm(row.get("fields", {}).get(match_on))) is not None}
        if not values:
            return {}
        column = getattr(Profile, match_on)
        q = select(Profile).where(Profile.account_id == self._account.id, func.lower(column).in_(values)).order_by(Profile.id)
        found: dict[str, Profile] = {}
        for p in self._session.scalars(q):
            found.setdefault(_norm(getattr(p, match_on)), p)
        return found

    def _links_of(self, profiles: Iterable[Profile]) -> dict[Profile, dict[str, str]]:
        """Each profile's external ids by system (profiles not yet inserted have none)."""
        by_id = {p.id: p for p in profiles if p.id is not None}
        links: dict[Profile, dict[str, str]] = _AutoDict()
        for pid, sys, rid in self._external_ids_of(by_id):
            links[by_id[pid]][sys] = rid
        return links

    def _external_ids_of(self, profile_ids: Iterable[int]):
        """``(profile_id, system, remote_id)`` of these profiles."""
        ids = set(profile_ids)
        if not ids:
            return []
        return self._session.execute(select(ExternalId.profile_id, ExternalId.system, ExternalId.remote_id)
                                     .where(ExternalId.profile_id.in_(ids))).all()

    def _insert_links(self, new_links: list[tuple[int, str, str]]) -> None:
        if new_links:  # appends whose ids nobody needs: one multi-row INSERT
            self._session.execute(insert(ExternalId.__table__), [
                {"account_id": self._account.id, "profile_id": pid, "system": sys, "remote_id": rid} for pid, sys, rid in new_links])

    def _link(self, profile: Profile, ext: dict[str, str], links, new_links: list) -> bool:
        """Give ``profile`` the external ids it lacks (rows are written after the batch's flush)."""
        changed = False
        for sys, rid in ext.items():
            if links[profile].get(sys) == rid:
                continue
            if sys not in links[profile]:
                new_links.append((profile, sys, rid))
            links[profile][sys] = rid
            profile.external_ids = {**(profile.external_ids or {}), sys: rid}
            changed = True
        return changed

    # -- registrations ---------------------------------------------------------------------------
    def upsert_registrations(self, rows: list[dict[str, Any]], overwrite_status: bool = False) -> list[UpsertResult]:
        """Register profiles for the event; ``rows`` are ``{"key", "profile_id", "attendee_type_code",
        "status_label", "source"}``. An existing registration keeps its status unless
        ``overwrite_status``; every status it gets or changes to is announced as an event."""
        event = self._require_event()
        s = self._session
        statuses = self._status_catalogue(event)
        types = set(self.attendee_type_codes())
        profile_ids = {r["profile_id"] for r in rows}
        existing: dict[int, Registration | NewRow] = {r.profile_id: r for r in s.scalars(select(Registration).where(
            Registration.event_id == event.id, Registration.profile_id.in_(profile_ids)))}
        profiles = {p.id: p for p in s.execute(select(Profile.id, Profile.pin, Profile.external_key, Profile.email)
                                                .where(Profile.id.in_(profile_ids)))}  # what an event tells of the person
        pending: list = []  # in input order: an UpsertResult, or (key, outcome, registration, code, message)
        announce: list[tuple[Registration | NewRow, str | None]] = []
        created: list[NewRow] = []
        now = utcnow()  # when these statuses were set: an older status-change event is then stale
        for row in rows:
            key, status, type_code = str(row["key"]), row["status_label"], row["attendee_type_code"]
            if status not in statuses:
                pending.append(UpsertResult(key, "failed", code="invalid_status", message=f"no registration status {status!r} in event {event.event_code}"))
                continue
            if type_code not in types:
                pending.append(UpsertResult(key, "failed", code="invalid_attendee_type", message=f"no attendee type {type_code!r} in event {event.event_code}"))
                continue
            reg = existing.get(row["profile_id"])
            if reg is None:
                reg = NewRow(event_id=event.id, profile_id=row["profile_id"], registration_code=None,
                             attendee_type_code=type_code, status_label=status, source=row.get("source", "api"),
                             external_ids={}, version=1, status_changed_at=now)
                created.append(reg)
                existing[row["profile_id"]] = reg
                announce.append((reg, None))
                pending.append((key, "created", reg, None, None))
            elif reg.status_label == status:
                pending.append((key, "unchanged", reg, None, None))
            elif not overwrite_status:
                pending.append((key, "skipped", reg, "exists",
                                f"already registered as {reg.status_label!r}; status not overwritten"))
            else:
                announce.append((reg, reg.status_label))
                reg.status_label, reg.version, reg.status_changed_at = status, reg.version + 1, now
                pending.append((key, "updated", reg, None, None))
        s.flush()  # the status changes of existing registrations, in one go
        for reg, code in zip(created, self._codes.draw("R", len(created))):
            reg.registration_code = code
        insert_new_rows(s, Registration.__table__, created, columns=_REGISTRATION_COLUMNS, code="registration_code",
                        prefix="R", scope="event_id", codes=self._codes)
        self._grew(len(created))
        status_events.write_registration_changes(
            s, account_code=self._account.account_code, event=event, actor=self._actor,
            changes=[_change(reg, profiles[reg.profile_id], previous, statuses) for reg, previous in announce])
        return [p if isinstance(p, UpsertResult) else UpsertResult(p[0], p[1], id=p[2].id, code=p[3], message=p[4])
                for p in pending]

    def _grew(self, rows: int) -> None:
        """Count this run's new rows; refresh the planner's statistics as the tables double."""
        self._new_rows += rows
        if self._new_rows >= self._refresh_at:
            self._refresh_at = 2 * self._new_rows
            db.refresh_statistics(self._session, (Profile.__tablename__, ExternalId.__tablename__,
                                                  Registration.__tablename__))

    def _status_catalogue(self, event: Event) -> dict[str, RegistrationStatus]:
        return {st.label: st for st in self._session.scalars(select(RegistrationStatus).where(RegistrationStatus.event_id == event.id))}

    def iter_registrations(self, status_labels: Iterable[str] | None = None, attendee_types: Iterable[str] | None = None,
                           modified_since: datetime | None = None, after: int = 0,
                           batch_size: int = 500, registration_codes: Iterable[str] | None = None,
                           ) -> Iterator[list[RegistrationView]]:
        """The event's registrations with their profiles, in batches, in ``position`` order.

        ``modified_since`` keeps those whose registration, profile, sessions or agenda items
        changed at or after that time (the incremental modes' watermark); ``registration_codes``
        those with one of these codes (a retry run's records)."""
        event = self._require_event()
        classes = {label: st.classification for label, st in self._status_catalogue(event).items()}
        last_id = after
        while True:
            q = (select(Registration, Profile).join(Profile, Profile.id == Registration.profile_id)
                 .where(Registration.event_id == event.id, Registration.id > last_id).order_by(Registration.id).limit(batch_size))
            if status_labels is not None:
                q = q.where(Registration.status_label.in_(list(status_labels)))
            if attendee_types is not None:
                q = q.where(Registration.attendee_type_code.in_(list(attendee_types)))
            if modified_since is not None:
                q = q.where(metrics.changed_since(modified_since))
            if registration_codes is not None:
                q = q.where(Registration.registration_code.in_(list(registration_codes)))
            batch = self._session.execute(q).all()
            if not batch:
                return
            last_id = batch[-1][0].id
            yield [_view(r, p, classes) for r, p in batch]

    def link_external_ids(self, rows: list[dict[str, Any]]) -> list[UpsertResult]:
        """Record remote ids on the profiles of registrations: ``rows`` are ``{"key",
        "registration_code", "external_ids": {"marketo_lead_id": "123"}}``. An id that already
        belongs to another profile of the account is refused (failed, ``external_id_taken``).

        Written with Core statements (Create or Update Leads calls this for every chunk): the
        ``external_ids`` rows and each profile's ``external_ids`` JSON change together."""
        event = self._require_event()
        codes = {r["registration_code"] for r in rows}
        profiles = {code: _LinkedProfile(pid, pin, ext) for code, pid, pin, ext in self._session.execute(
            select(Registration.registration_code, Profile.id, Profile.pin, Profile.external_ids)
            .join(Profile, Profile.id == Registration.profile_id)
            .where(Registration.event_id == event.id, Registration.registration_code.in_(codes)))}
        owners = self._owners_of([r.get("external_ids") for r in rows])  # (system, remote id) -> (profile id, pin)
        links: dict[_LinkedProfile, dict[str, str]] = _AutoDict()
        by_id = {p.id: p for p in profiles.values()}
        for pid, sys, rid in self._external_ids_of(by_id):
            links[by_id[pid]][sys] = rid
        new_links: list[tuple[_LinkedProfile, str, str]] = []
        unlinked: dict[str, set[int]] = {}  # system -> profiles whose old id of that system goes
        results = []
        for row in rows:
            key, profile = str(row["key"]), profiles.get(row["registration_code"])
            if profile is None:
                results.append(UpsertResult(key, "failed", code="not_found", message=f"no registration {row['registration_code']}"))
                continue
            ext = {sys: str(rid) for sys, rid in (row.get("external_ids") or {}).items() if rid not in (None, "")}
            taken = [(sys, rid) for sys, rid in ext.items() if owners.get((sys, rid), (profile.id,))[0] != profile.id]
            if taken:
                sys, rid = taken[0]
                results.append(UpsertResult(key, "failed", id=profile.id, code="external_id_taken",
                                            message=f"{sys} {rid} already belongs to profile {owners[(sys, rid)][1]}"))
                continue
            same = all(links[profile].get(sys) == rid for sys, rid in ext.items())
            if not same:
                for sys, rid in ext.items():
                    if links[profile].get(sys) not in (None, rid):  # the remote record changed: follow it
                        unlinked.setdefault(sys, set()).add(profile.id)
                        links[profile].pop(sys)
                self._link(profile, ext, links, new_links)
                for sys, rid in ext.items():
                    owners[(sys, rid)] = (profile.id, profile.pin)
            results.append(UpsertResult(key, "unchanged" if same else "updated", id=profile.id))
        for sys, ids in unlinked.items():
            self._session.execute(delete(ExternalId).where(ExternalId.system == sys, ExternalId.profile_id.in_(ids)))
        self._insert_links([(p.id, sys, rid) for p, sys, rid in new_links])
        self._save_external_ids([p for p in by_id.values() if p.changed])
        return results

    def _owners_of(self, external_ids: list[dict[str, Any] | None]) -> dict[tuple[str, str], tuple[int, str]]:
        """``(system, remote id) -> (profile id, pin)`` of the ids that a profile of the account holds."""
        owners = {}
        for sys, ids in _remote_ids_by_system(external_ids).items():
            q = (select(ExternalId.remote_id, Profile.id, Profile.pin).join(Profile, Profile.id == ExternalId.profile_id)
                 .where(ExternalId.account_id == self._account.id, ExternalId.system == sys, ExternalId.remote_id.in_(ids)))
            owners.update({(sys, rid): (pid, pin) for rid, pid, pin in self._session.execute(q)})
        return owners

    def _save_external_ids(self, profiles: list[_LinkedProfile]) -> None:
        """One executemany UPDATE of the profiles' ``external_ids`` JSON; the session's copies of
        those profiles, if it holds any, read the new value on their next use."""
        if not profiles:
            return
        table = Profile.__table__
        self._session.execute(
            update(table).where(table.c.id == bindparam("profile_id"))
            .values(external_ids=bindparam("new_external_ids"), date_modified=bindparam("now")),
            [{"profile_id": p.id, "new_external_ids": p.external_ids, "now": utcnow()} for p in profiles])
        for p in profiles:
            held = self._session.identity_map.get(identity_key(Profile, p.id))
            if held is not None:
                self._session.expire(held, ["external_ids", "date_modified"])

    # -- metrics ---------------------------------------------------------------------------------
    def tag_names(self) -> list[str]:
        """The account's interest tags, in name order."""
        return metrics.tag_names(self._session, self._account.id)

    def engagement(self, positions: list[int]) -> dict[int, metrics.Engagement]:
        """Engagement figures of these registrations (by ``position``)."""
        return metrics.engagement(self._session, positions)

    def interest(self, positions: list[int], session_statuses: Iterable[str] = ("Registered", "Attended"),
                 agenda_statuses: Iterable[str] = ("Registered",)) -> dict[int, dict[str, int]]:
        """Per registration, the points of each tag summed over its qualifying sessions and agenda items."""
        return metrics.interest(self._session, positions, tuple(session_statuses), tuple(agenda_statuses))


def _change(reg: Registration, profile: Profile, previous: str | None,
            statuses: dict[str, RegistrationStatus]) -> status_events.StatusChange:
    cur = statuses[reg.status_label]
    before = (previous, statuses[previous].classification) if previous in statuses else None
    return status_events.StatusChange(reg, profile, before, (cur.label, cur.classification), tuple(cur.tags or ()))


#: the columns a ``RegistrationView`` is made of, read as plain rows (``view_of_row``): building
#: ORM objects of the registration and its person cost more than the read
VIEW_COLUMNS = (Registration.id, Registration.event_id, Registration.registration_code, Registration.status_label,
                Registration.attendee_type_code, Registration.version, Registration.date_modified,
                Profile.external_ids.label("profile_external_ids"),
                *(getattr(Profile, name).label(f"profile_{name}") for name in PROFILE_FIELDS))


def view_of_row(row) -> RegistrationView:
    """A ``RegistrationView`` of a row of ``VIEW_COLUMNS``."""
    return RegistrationView(row.registration_code, row.status_label, row.attendee_type_code, row.version,
                            {name: row._mapping[f"profile_{name}"] for name in PROFILE_FIELDS},
                            dict(row.profile_external_ids or {}), position=row.id, date_modified=row.date_modified)


def _view(r: Registration, p: Profile, classes: dict[str, str]) -> RegistrationView:
    return RegistrationView(r.registration_code, r.status_label, r.attendee_type_code, r.version,
                            {f: getattr(p, f) for f in PROFILE_FIELDS}, dict(p.external_ids or {}),
                            position=r.id, classification=classes.get(r.status_label), date_modified=r.date_modified)


class _LinkedProfile:
    """A profile as ``link_external_ids`` sees it: id, pin, and its ``external_ids`` JSON."""

    def __init__(self, profile_id: int, pin: str, external_ids: dict[str, Any] | None):
        self.id, self.pin, self._external_ids, self.changed = profile_id, pin, dict(external_ids or {}), False

    @property
    def external_ids(self) -> dict[str, Any]:
        return self._external_ids

    @external_ids.setter
    def external_ids(self, value: dict[str, Any]) -> None:
        self._external_ids, self.changed = value, True


class _AutoDict(dict):
    def __missing__(self, key):
        value = self[key] = {}
        return value


def _remote_ids_by_system(external_ids: Iterable[dict[str, Any] | None]) -> dict[str, set[str]]:
    wanted: dict[str, set[str]] = {}
    for ext in external_ids:
        for sys, rid in (ext or {}).items():
            if rid not in (None, ""):
                wanted.setdefault(sys, set()).add(str(rid))
    return wanted


def _norm(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip().lower()
    return text or None


def _apply_fields(profile: Profile, fields: dict[str, Any], policies: dict[str, str]) -> bool:
    changed = False
    for name, value in fields.items():
        policy = policies.get(f"profile.{name}", "overwrite")
        current = getattr(profile, name)
        if policy == "never" or value in (None, "") or current == value:
            continue
        if policy == "only_if_blank" and current not in (None, ""):
            continue
        setattr(profile, name, value)
        changed = True
    return changed
