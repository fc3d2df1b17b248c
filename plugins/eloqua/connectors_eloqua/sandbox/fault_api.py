"""The sandbox's Python API for faults (spec §7.4): scripted failures per host and route, after
N calls or at random (seeded), token expiry, single-use refresh tokens, ``/id`` refusals, pod
moves and latency. Bulk sync faults live on ``sandbox.bulk.faults`` (``bulk_faults.py``)."""
from __future__ import annotations

from typing import Iterable

from .bulk_sync import BulkEngine
from .faults import LOGIN, PASS, POD, Fault, FaultQueue, RandomFaults
from .hosts import Hangs, PodHost
from .identity import Identity


class FaultApi:
    faults: FaultQueue
    random_faults: RandomFaults
    identity: Identity
    hangs: Hangs
    bulk: BulkEngine
    pods: dict[str, PodHost]
    pod: str
    latency: float
    path_latency: list[tuple[str, float]]
    id_refusal_status: int

    # -- scripted failures ------------------------------------------------------------------------
    def fail_next(self, n: int = 1, status: int | None = None, *, drop: bool = False, hang: float | None = None,
                  after_effect: bool = False, retry_after: str | None = None, text: str | None = None,
                  after: int = 0, path: str | None = None, host: str = POD) -> None:
        """The next ``n`` calls to ``host`` ("pod" or "login") whose path matches ``path`` (a
        regex, any case) fail: with HTTP ``status`` and Eloqua's text for it (429 comes without
        Retry-After unless ``retry_after`` is given), by resetting the connection (``drop``) or
        by answering nothing for ``hang`` seconds. ``after_effect``: the call is carried out
        first, only its answer is lost. ``after`` lets that many matching calls through first."""
        if [status is not None, drop, hang is not None].count(True) != 1:
            raise ValueError("give exactly one of status, drop, hang")
        self.faults.add(PASS, after, path, host)
        self.faults.add(Fault(status, text, retry_after, drop, hang, after_effect), n, path, host)

    def hang_next(self, n: int = 1, seconds: float = 5.0, **options) -> None:
        """The next ``n`` calls get no answer for ``seconds`` (a client's read timeout fires)."""
        self.fail_next(n, hang=seconds, **options)

    def fail_randomly(self, p: float, *, statuses: Iterable[int] = (), drop: bool = False, seed: int = 0,
                      path: str | None = None) -> None:
        """From now on each pod call fails with probability ``p`` (seeded, so repeatable) with one
        of the given faults. ``fail_randomly(0)`` stops it."""
        faults = [Fault(status=s) for s in statuses] + ([Fault(drop=True)] if drop else [])
        self.random_faults.configure(p, faults, seed, path)

    def refuse_id_next(self, n: int = 1, status: int = 200) -> None:
        """The next ``n`` ``/id`` calls answer "Not authenticated." (status 200 as Eloqua does,
        or 401)."""
        self.faults.add(Fault(status=status, not_authenticated=True), n, r"(?i)/id", LOGIN)

    def clear_faults(self) -> None:
        self.faults.clear()
        self.random_faults.configure(0, ())
        self.bulk.faults.clear()

    # -- identity ---------------------------------------------------------------------------------
    @property
    def access_ttl(self) -> float:
        return self.identity.access_ttl

    @access_ttl.setter
    def access_ttl(self, seconds: float) -> None:
        self.identity.access_ttl = seconds

    def expire_access_tokens(self) -> None:
        """Every access token expires now: the next call with one gets 401."""
        self.identity.expire_access_tokens()

    def expire_refresh_tokens(self) -> None:
        """Every refresh token expires now: the token endpoint answers 401 ``invalid_grant``."""
        self.identity.expire_refresh_tokens()

    def disable_user(self, username: str, disabled: bool = True) -> None:
        self.identity.user(username).enabled = not disabled

    def block_caller_ip(self, blocked: bool = True) -> None:
        """The caller's IP is outside the site's allow-list: every credential is refused."""
        self.identity.blocked = blocked

    # -- pods -------------------------------------------------------------------------------------------
    def move_site(self, to: str | None = None) -> str:
        """The site moves to another pod (default: the next one): the old pod answers 401 and
        ``/id`` names the new base URL. Returns the new pod's name."""
        names = list(self.pods)
        target = to or names[(names.index(self.pod) + 1) % len(names)]
        if target not in self.pods:
            raise ValueError(f"no pod {target!r}; pods: {names}")
        self.pod = target
        return target

    # -- latency ------------------------------------------------------------------------------------------
    def set_latency(self, seconds: float, path: str | None = None) -> None:
        """Every request (``path`` None), or those whose path matches the regex, take ``seconds``
        longer; the latest matching rule wins; ``set_latency(0, path)`` removes that rule."""
        if path is None:
            self.latency = seconds
            return
        rules = [(p, s) for p, s in self.path_latency if p != path]
        self.path_latency = rules + ([(path, seconds)] if seconds else [])
