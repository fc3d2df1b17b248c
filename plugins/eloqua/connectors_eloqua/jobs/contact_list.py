"""Update Eloqua Contact List (spec §8 job 2, §2.4, §3.3).

Puts the Eloqua contacts of the event's chosen registrations into a shared contact list — given
by id, or by name (made if Eloqua has none) — through Bulk sync actions, which Eloqua logs
(ELQ-00119 added, ELQ-00118 removed) and which scale where REST membership PUTs do not. Mode
``sync`` also takes out the members no chosen registration accounts for (not on a retry run,
which chooses only the registrations asked for).

The list's members are exported first, so a registration whose contact is in already is
``unchanged`` and only the others are sent, by email; an email no Eloqua contact has comes back
as a reject (ELQ-00085) and is reported per registration, as is any other reject. Contact ids
learnt from the members are kept on the profiles.

Each batch of registrations commits with its position, so an attempt that dies resumes after
the last saved batch (earlier registrations are read again only to know who is wanted). Before a
batch's sync action runs, the checkpoint keeps which registrations it sends (their positions, as
ranges: ``adding``) — or, taking members out, which contacts (``removing``); the batch's other
records wait until after the sync so that mark commits nothing else. An attempt that resumes
after one died with a batch in flight finds those contacts already in (or out of) the list and
counts them ``created`` (``updated``) as the dead attempt would have, never ``unchanged``.
"""
from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from connectors import JobContext, JobFailed, JobType, RegistrationView

from ..client import EloquaClient
from ..errors import EloquaNotFound
from .bulk_runs import definition_name, forget, sync_deadline, throttling_resumes, wait_for
from .common import client_for_run, eloqua_errors
from .id_ranges import IdRanges, compact
from .outbound import (
    FILTER_CHOICES, RegistrationFilterParams, known_contact_id, link_contact_ids, registration_filters, registration_key,
)

KEY = "eloqua.update_contact_list"
MODES = ("add", "sync")
#: registrations per sync action (and per commit)
BATCH = 5000
EMAIL_COLUMN, ID_COLUMN = "EmailAddress", "ContactId"
EMAIL_STATEMENT, ID_STATEMENT = "{{Contact.Field(C_EmailAddress)}}", "{{Contact.Id}}"
#: the reject of a sync action row that names no contact
NOT_IN_ELOQUA = "ELQ-00085"
#: sync action data is only needed until the sync ends
SYNC_ACTION_RETENTION = "PT12H"


class UpdateContactListParams(RegistrationFilterParams):
    contact_list_id = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1), metadata={
        "label": "Contact list id", "order": 1, "description": "The Eloqua shared list to update"})
    contact_list_name = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=100),
                                      metadata={"label": "Contact list name", "order": 2,
                                                "description": "Or its exact name; a new shared list is made if "
                                                               "Eloqua has none of that name"})
    mode = fields.String(load_default="add", validate=validate.OneOf(MODES), metadata={
        "label": "Mode", "order": 3,
        "description": "add: put the registrations' contacts in the list; sync: also take out members that match "
                       "no chosen registration"})

    @validates_schema(skip_on_field_errors=False)
    def _one_list(self, data: dict[str, Any], **kwargs: Any) -> None:
        if (data.get("contact_list_id") is None) == (data.get("contact_list_name") is None):
            raise ValidationError("Give the contact list's id or its name (one of them).", "contact_list_id")


def run(ctx: JobContext, params: dict[str, Any]) -> None:
    client = client_for_run(ctx)
    filters = registration_filters(ctx, params)
    kept = "Contacts added to or removed from the list so far stay so."
    with eloqua_errors(kept), throttling_resumes(kept):
        _ListUpdate(ctx, client, params).run(filters)


def resolve_target(ctx: JobContext, client: EloquaClient, params: dict[str, Any]) -> dict[str, Any]:
    """``{id, name, created}`` of the list to update; a list named but missing is made."""
    if params.get("contact_list_id") is not None:
        try:
            found = client.get_contact_list(params["contact_list_id"])
        except EloquaNotFound as exc:
            raise JobFailed(f"Eloqua has no contact list with id {params['contact_list_id']}.",
                            code="list_not_found") from exc
        return {"id": int(found["id"]), "name": found.get("name"), "created": False}
    name = params["contact_list_name"]
    found = client.find_contact_list(name)
    if found is not None:
        return {"id": int(found["id"]), "name": found["name"], "created": False}
    made = client.create_contact_list(name, f"Contacts of registrations in Certain event {ctx.store.event.code}")
    ctx.log.info("made the shared list %r (id %s)", name, made["id"])
    return {"id": int(made["id"]), "name": made.get("name", name), "created": True}


class _ListUpdate:
    def __init__(self, ctx: JobContext, client: EloquaClient, params: dict[str, Any]):
        self.ctx, self.client, self.params = ctx, client, params
        self.state: dict[str, Any] = dict(ctx.checkpoint.load() or {})
        self.wanted_emails: set[str] = set()
        self.wanted_ids: set[str] = set()
        # what a dead attempt's last sync action carried (see the module docstring)
        self.adding = IdRanges(self.state.pop("adding", None))
        self.removing = IdRanges(self.state.pop("removing", None))

    @property
    def destination(self) -> str:
        return "{{ContactList[%d]}}" % self.state["list"]["id"]

    def run(self, filters: dict[str, Any]) -> None:
        ctx, state = self.ctx, self.state
        if state.get("finished"):
            ctx.log.info("the list was already updated")
            return
        if "list" not in state:
            state.update(list=resolve_target(ctx, self.client, self.params), after=0, done=0)
            self._save()
        target = state["list"]
        fresh = target["created"] and not state["after"]
        members = {} if fresh else self._members()
        ctx.log.info("updating list %r (id %s, %s members) in %s mode", target["name"], target["id"], len(members),
                     self.params["mode"])
        if not self._add_all(filters, members):
            return
        if self.params["mode"] == "sync" and ctx.only_keys is None:
            self._remove_unwanted(members)
        elif self.params["mode"] == "sync":
            ctx.log.info("retry: only the registrations asked for were added; no member is taken out")
        self._save(finished=True)

    # -- the list as it is --------------------------------------------------------------------------
    def _members(self) -> dict[str, str]:
        """Contact id -> lower-case email of each member, from a Bulk export of the list."""
        body = {"name": definition_name(self.ctx, f"list {self.state['list']['id']} members"),
                "fields": {ID_COLUMN: ID_STATEMENT, EMAIL_COLUMN: EMAIL_STATEMENT},
                "filter": "EXISTS('%s')" % self.destination, "areSystemTimestampsInUTC": True,
                "dataRetentionDuration": SYNC_ACTION_RETENTION}
        uri = self.client.create_definition("contacts/exports", body)["uri"]
        try:
            sync = wait_for(self.client, self.client.start_sync(uri)["uri"])
            return {str(row[ID_COLUMN]): str(row.get(EMAIL_COLUMN) or "").strip().lower()
                    for row in self.client.export_rows(sync["uri"], limit=50_000)}
        finally:
            forget(self.client, uri)

    # -- adding ----------------------------------------------------------------------------------------
    def _add_all(self, filters: dict[str, Any], members: dict[str, str]) -> bool:
        """Send each batch's newcomers; False if the user cancelled."""
        ctx, state = self.ctx, self.state
        by_email = {email: cid for cid, email in members.items() if email}
        handled_upto = state["after"]
        for batch in ctx.store.iter_registrations(**filters, batch_size=BATCH):
            newcomers, links, notes = self._sort_batch(batch, members, by_email, handled_upto)
            if batch[-1].position <= handled_upto:
                continue
            if newcomers:  # the mark commits before the sync action, alone (the batch's records wait)
                self._save(adding=compact(position for position, _, _ in newcomers))
            self._send("add", [(key, {EMAIL_COLUMN: email}, email) for _, key, email in newcomers])
            for note in notes:
                ctx.record(*note)
            for key, failed in link_contact_ids(ctx, links).items():
                ctx.log.warning("%s: Eloqua contact id not kept on the profile: %s", key, failed.message)
            state.update(after=batch[-1].position, done=state["done"] + sum(v.position > handled_upto for v in batch))
            ctx.progress(state["done"])
            self._save()
            if ctx.cancelled():
                ctx.log.info("cancelled after %s registrations", state["done"])
                return False
        return True

    def _sort_batch(self, batch: list[RegistrationView], members: dict[str, str], by_email: dict[str, str],
                    handled_upto: int) -> tuple[list[tuple[int, str, str]], dict[str, tuple[str, str]], list[tuple]]:
        """The batch's newcomers ``(position, key, email)``, the contact ids to keep on profiles,
        and the records of the others (to make once the batch's sync action is done)."""
        newcomers, links, notes = [], {}, []
        for view in batch:
            member = self._classify(view, members, by_email, notes if view.position > handled_upto else None)
            if view.position <= handled_upto or member is False:
                continue
            key = registration_key(view)
            if member is None:
                newcomers.append((view.position, key, view.profile["email"].strip()))
                continue
            # a member the dead attempt's last sync action put in was added by this run
            notes.append((key, "created", None, None, "add") if view.position in self.adding
                         else (key, "unchanged", None, None, "list"))
            if known_contact_id(view) != member:
                links[key] = (view.registration_code, member)
        return newcomers, links, notes

    def _classify(self, view: RegistrationView, members: dict[str, str], by_email: dict[str, str],
                  notes: list[tuple] | None) -> str | None | bool:
        """The member contact id of a wanted registration, None if its contact is not a member yet,
        False if it cannot be put in (noted in ``notes`` when given)."""
        email = str(view.profile.get("email") or "").strip().lower()
        known = known_contact_id(view)
        member = known if known in members else by_email.get(email) if email else None
        problem = None
        if not email and member is None:
            problem = ("no_email", "the registration's profile has no email to find its Eloqua contact by")
        elif (email and email in self.wanted_emails) or (member is not None and member in self.wanted_ids):
            problem = ("duplicate", f"another registration of this run has the contact {email or member}")
        if problem:
            if notes is not None:
                notes.append((registration_key(view), "skipped", *problem, "list"))
            return False
        self.wanted_emails.update([email] if email else [])
        self.wanted_ids.update(i for i in (member, known) if i)
        return member

    # -- removing ------------------------------------------------------------------------------------
    def _remove_unwanted(self, members: dict[str, str]) -> None:
        gone = [(cid, email) for cid, email in members.items()
                if cid not in self.wanted_ids and not (email and email in self.wanted_emails)]
        if self.removing:
            self._count_removed_by_the_dead_attempt(members)
        for start in range(0, len(gone), BATCH):
            chunk = gone[start:start + BATCH]
            self._save(removing=compact(int(cid) for cid, _ in chunk if cid.isdigit()))
            self._send("remove", [(f"contact {cid} <{email}>" if email else f"contact {cid}", {ID_COLUMN: cid}, email)
                                  for cid, email in chunk], part=start)
            self._save()
        self.ctx.log.info("%s members no chosen registration accounts for were taken out", len(gone))

    def _count_removed_by_the_dead_attempt(self, members: dict[str, str]) -> None:
        """The contacts the last sync action of an attempt that died was taking out and that
        are no longer members: that action took them out, so they count as removed (``updated``)."""
        members_now = {int(cid) for cid in members if cid.isdigit()}
        gone = [cid for first, last in self.removing.ranges for cid in range(first, last + 1) if cid not in members_now]
        for cid in gone:
            self.ctx.record(f"contact {cid}", "updated", stage="remove")
        self._save()

    # -- one sync action ----------------------------------------------------------------------------------
    def _send(self, action: str, rows: list[tuple[str, dict[str, str], str]], part: int = 0) -> None:
        """One sync action over ``rows`` (record key, row, email); each row's outcome recorded."""
        if not rows:
            return
        column, statement = (EMAIL_COLUMN, EMAIL_STATEMENT) if action == "add" else (ID_COLUMN, ID_STATEMENT)
        step = f"list {self.state['list']['id']} {action} {self.state['after']}.{part}"
        body = {"name": definition_name(self.ctx, step),
                "fields": {column: statement}, "identifierFieldName": column,
                "syncActions": [{"action": action, "destination": self.destination}],
                "dataRetentionDuration": SYNC_ACTION_RETENTION}
        with sync_deadline(self.client):
            result = self.client.run_import("contacts/syncActions", body, [row for _, row, _ in rows])
        rejected = {r.row: r for r in result.rejects}
        done = "created" if action == "add" else "updated"
        for index, (key, _, email) in enumerate(rows):
            reject = rejected.get(index)
            if reject is None:
                self.ctx.record(key, done, stage=action)
            elif reject.code == NOT_IN_ELOQUA and action == "add":
                self.ctx.record(key, "skipped", "not_in_eloqua", f"no Eloqua contact has the email {email}: "
                                "run Create or Update Contacts in Eloqua first", stage=action)
            elif reject.code == NOT_IN_ELOQUA:
                self.ctx.record(key, "skipped", "not_in_eloqua", "the contact was deleted in Eloqua meanwhile",
                                stage=action)
            else:
                fields_named = f" ({', '.join(reject.invalid_fields)})" if reject.invalid_fields else ""
                self.ctx.record(key, "failed", reject.code, f"{reject.message}{fields_named}", stage=action)
        code = "ELQ-00119" if action == "add" else "ELQ-00118"
        self.ctx.log.info("%s: %s %s contacts (%s), %s rejected", result.sync_uri, action, result.count(code), code,
                          len(result.rejects))

    def _save(self, finished: bool = False, **in_flight: list[list[int]]) -> None:
        """Commit the state; ``adding`` / ``removing`` name a sync action about to run."""
        self.state["finished"] = finished
        self.ctx.checkpoint.save({**self.state, **in_flight})


UPDATE_CONTACT_LIST = JobType(
    key=KEY,
    label="Update Eloqua Contact List",
    application="eloqua",
    scope="event",
    params_schema=UpdateContactListParams,
    run=run,
    description="Puts the Eloqua contacts of the event's registrations (by status and attendee type) into a shared "
                "contact list; sync mode also takes out the members no longer chosen.",
    event_choices=FILTER_CHOICES,
)

JOB_TYPES = (UPDATE_CONTACT_LIST,)
