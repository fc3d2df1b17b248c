"""The sandbox's Python API for faults and limits (spec §7 "Fault injection")."""
from __future__ import annotations

from typing import Iterable

from .faults import PASS, Fault, FaultQueue, RandomFaults
from .identity import TokenIssuer
from .limits import DailyQuota, InFlight, SlidingWindow


class FaultApi:
    faults: FaultQueue
    identity_faults: FaultQueue
    random_faults: RandomFaults
    tokens: TokenIssuer
    rate_window: SlidingWindow
    in_flight: InFlight
    quota: DailyQuota
    latency: float
    path_latency: list[tuple[str, float]]

    # -- scripted failures ------------------------------------------------------------------------
    def fail_next(self, n: int = 1, code: str | int | None = None, *, http_status: int | None = None,
                  message: str | None = None, drop_connection: bool = False, truncate: bool = False,
                  after: int = 0, path: str | None = None) -> None:
        """The next ``n`` REST calls fail: with Marketo ``code`` in the envelope (606, 604, 611…),
        with an HTTP ``http_status`` and an HTML body (500, 502, 503), by dropping the connection,
        or by serving the call and cutting the body short (``truncate``). ``after`` lets that many
        calls through first; ``path`` (a regex) limits it to matching calls. Injected failures use
        no quota. Calls queue up: a second ``fail_next`` applies after the first."""
        if [code is not None, http_status is not None, drop_connection, truncate].count(True) != 1:
            raise ValueError("give exactly one of code, http_status, drop_connection, truncate")
        self.faults.add(PASS, after, path)
        fault = Fault(str(code) if code is not None else None, http_status, message, drop_connection, truncate)
        self.faults.add(fault, n, path)

    def hang_next(self, n: int = 1, seconds: float = 5.0, *, after: int = 0, path: str | None = None) -> None:
        """The next ``n`` REST calls get no answer for ``seconds`` (or until ``release_hangs()``),
        then the connection is dropped: a client's read timeout should fire first."""
        self.faults.add(PASS, after, path)
        self.faults.add(Fault(hang=seconds), n, path)

    def fail_randomly(self, p: float, *, codes: Iterable[str | int] = (), http_statuses: Iterable[int] = (),
                      drop_connection: bool = False, truncate: bool = False, seed: int = 0,
                      path: str | None = None) -> None:
        """From now on each REST call fails with probability ``p`` (seeded, so repeatable), with
        one of the given faults picked at random. ``fail_randomly(0)`` stops it."""
        faults = [Fault(code=str(c)) for c in codes] + [Fault(http_status=s) for s in http_statuses]
        faults += [Fault(drop_connection=True)] if drop_connection else []
        faults += [Fault(truncate=True)] if truncate else []
        self.random_faults.configure(p, faults, seed, path)

    def clear_faults(self) -> None:
        self.faults.clear()
        self.identity_faults.clear()
        self.random_faults.configure(0, ())

    def fail_identity_next(self, n: int = 1, http_status: int = 503) -> None:
        """The next ``n`` identity calls fail: 401 answers ``invalid_client``, others an HTML page."""
        self.identity_faults.add(Fault(http_status=http_status), n)

    # -- latency ------------------------------------------------------------------------------------
    def set_latency(self, seconds: float, path: str | None = None) -> None:
        """Every request (``path`` None), or those whose path matches the regex, take ``seconds``
        longer; the most recent matching rule wins. ``set_latency(0, path)`` removes that rule."""
        if path is None:
            self.latency = seconds
            return
        rules = [(p, s) for p, s in self.path_latency if p != path]
        self.path_latency = rules + ([(path, seconds)] if seconds else [])

    # -- limits -------------------------------------------------------------------------------------
    def set_rate_limit(self, limit: int | None, seconds: float = 20.0) -> None:
        """Marketo's shared window (default 100 calls / 20 s); None turns it off."""
        self.rate_window.configure(limit, seconds)

    @property
    def concurrency_limit(self) -> int | None:
        return self.in_flight.limit

    @concurrency_limit.setter
    def concurrency_limit(self, limit: int | None) -> None:
        self.in_flight.limit = limit

    @property
    def peak_concurrency(self) -> int:
        """The most REST calls that were in flight at once."""
        return self.in_flight.peak

    @property
    def daily_quota(self) -> int | None:
        return self.quota.quota

    @daily_quota.setter
    def daily_quota(self, calls: int | None) -> None:
        self.quota.quota = calls

    @property
    def usage(self) -> int:
        """REST calls counted against today's quota."""
        return self.quota.used

    def set_usage(self, calls: int, user: str = "other-integration") -> None:
        """Pretend another integration (``user``) already made ``calls`` calls today."""
        self.quota.set_used(calls, user)

    def reset_usage(self) -> None:
        self.quota.reset()
        self.rate_window.reset()

    # -- tokens ---------------------------------------------------------------------------------------
    @property
    def token_ttl(self) -> float:
        return self.tokens.ttl

    @token_ttl.setter
    def token_ttl(self, seconds: float) -> None:
        self.tokens.ttl = seconds

    def add_api_user(self, client_id: str, client_secret: str) -> None:
        self.tokens.add_api_user(client_id, client_secret)

    def expire_token(self, client_id: str | None = None) -> None:
        """Current tokens expire now: the next REST call with one gets 602."""
        self.tokens.expire(client_id)

    def revoke_token(self, client_id: str | None = None) -> None:
        """Current tokens become unknown: the next REST call with one gets 601."""
        self.tokens.revoke(client_id)
