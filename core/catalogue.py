"""The standard registration statuses of Certain (``specs/certain.md`` §2.1)."""

STANDARD_STATUSES: tuple[tuple[str, str], ...] = (
    ("New", "accepted"),
    ("Requested Invitation", "pending"),
    ("Waitlist Hold", "pending"),
    ("Invited", "pending"),
    ("Request Denied", "denied"),
    ("Invitation Sent", "pending"),
    ("Pre-Registered", "accepted"),
    ("Declined Invitation", "denied"),
    ("Cancelled", "cancelled"),
    ("No-show", "accepted"),
    ("Attended", "accepted"),
)

STANDARD_ATTENDEE_TYPES: tuple[tuple[str, str], ...] = (
    ("Attendee", "Attendee"),
    ("Speaker", "Speaker"),
    ("Sponsor", "Sponsor"),
    ("VIP", "VIP"),
)
