"""Client-side pacing and the daily budget: the limiter alone (fake clock, threads), the budget
guard alone, and both against the sandbox's real sliding window and concurrency gate."""
from __future__ import annotations

import random
import threading
import time

import pytest

from connectors_marketo.budget import DailyBudget
from connectors_marketo.client import MarketoClient
from connectors_marketo.errors import MarketoError, MarketoQuotaExhausted
from connectors_marketo.ratelimit import RATE_LIMITERS, RateLimiter, RateLimits, shared_limiter
from connectors_marketo.retry import RetryPolicy
from connectors_marketo.sandbox import start_sandbox


@pytest.fixture(autouse=True)
def fresh_limiters():
    RATE_LIMITERS.clear()
    yield
    RATE_LIMITERS.clear()


def most_in_any_window(times: list[float], seconds: float) -> int:
    """The most of ``times`` that fall in one window (t - seconds, t]."""
    ordered = sorted(times)
    return max(sum(1 for u in ordered if t - seconds < u <= t) for t in ordered)


# -- the limiter alone ------------------------------------------------------------------------------
def test_never_more_than_n_calls_in_any_window_wherever_marketo_counts_them(clock):
    limiter = RateLimiter(RateLimits(5, 20.0, None), clock)
    rng = random.Random(3)
    spans = []
    for _ in range(60):
        limiter.acquire(clock.sleep)
        start = clock()
        clock.advance(rng.uniform(0, 4))  # the call takes a while
        spans.append((start, clock()))
        limiter.release()
        clock.advance(rng.uniform(0, 1))
    # Marketo counts a call when it arrives: any moment between its start and its finish, and
    # within the first second (the request's upload; the rest of a long call is Marketo working)
    for _ in range(20):
        arrivals = [rng.uniform(start, min(end, start + 1.0)) for start, end in spans]
        assert most_in_any_window(arrivals, 20.0) <= 5
    assert clock.sleeps, "it had to wait"


def test_slow_calls_do_not_stretch_the_window(clock):
    """A 5-second call holds its place until 20 s after it reached Marketo (1 s after its start
    at the latest), not 20 s after its answer: no idling for the length of each slow call."""
    limiter = RateLimiter(RateLimits(1, 20.0, None), clock)
    with limiter.slot(clock.sleep):
        clock.advance(5)
    with limiter.slot(clock.sleep):
        pass
    assert clock.sleeps == [16]  # reached Marketo by +1, leaves the window at +21; now is +5


def test_a_full_window_waits_until_the_oldest_call_has_left_it(clock):
    limiter = RateLimiter(RateLimits(2, 20.0, None), clock)
    for _ in range(2):
        with limiter.slot(clock.sleep):
            clock.advance(1)
    with limiter.slot(clock.sleep):
        pass
    assert clock.sleeps == [19]  # the first call finished at +1 and leaves the window at +21
    assert limiter.calls_in_window() == 2


def test_no_limits_never_wait(clock):
    limiter = RateLimiter(RateLimits(None, 20.0, None), clock)
    for _ in range(500):
        with limiter.slot(clock.sleep):
            pass
    assert clock.sleeps == []


def test_threads_share_the_window_and_the_concurrency_cap():
    limiter = RateLimiter(RateLimits(calls_per_window=8, window_seconds=0.25, max_concurrency=3))
    starts: list[float] = []
    lock = threading.Lock()
    state = {"now": 0, "peak": 0}

    def worker():
        for _ in range(6):
            with limiter.slot():
                with lock:
                    starts.append(time.monotonic())
                    state["now"] += 1
                    state["peak"] = max(state["peak"], state["now"])
                time.sleep(0.005)
                with lock:
                    state["now"] -= 1

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(starts) == 48
    assert state["peak"] <= 3
    assert most_in_any_window(starts, 0.25) <= 8
    assert limiter.in_flight == 0


def test_a_hold_after_606_is_waited_out_once_by_every_other_thread():
    limiter = RateLimiter(RateLimits(None, 20.0, None))
    mine: list[float] = []
    limiter.hold_off(5)
    limiter.acquire(mine.append)
    limiter.release()
    assert mine == []  # the thread that got the 606 has slept already

    theirs: list[float] = []

    def other():
        for _ in range(3):  # a fake sleep: the hold is not re-checked, so no spinning
            limiter.acquire(theirs.append)
            limiter.release()

    thread = threading.Thread(target=other)
    thread.start()
    thread.join(5)
    assert len(theirs) == 1 and 4 < theirs[0] <= 5


def test_one_limiter_per_instance_and_api_user_in_the_process():
    a = shared_limiter("http://x/rest", "api-user")
    assert shared_limiter("http://x/rest/", "api-user") is a
    assert shared_limiter("http://x/rest", "other-user") is not a
    assert shared_limiter("http://y/rest", "api-user") is not a
    shared_limiter("http://x/rest", "api-user", RateLimits(10, 5.0, 1))
    assert a.limits == RateLimits(10, 5.0, 1)  # the latest configuration applies to every client
    fake_clock = lambda: 0.0  # noqa: E731
    assert shared_limiter("http://x/rest", "api-user", clock=fake_clock) is not a


def test_clients_of_one_instance_share_the_limiter(sandbox, make_client):
    first, second = make_client(), make_client()
    assert first.limiter is second.limiter
    assert MarketoClient.from_connection(dict(sandbox.connection, client_id="x")).limiter is not first.limiter


def test_limits_come_from_the_connection_settings(sandbox):
    settings = dict(sandbox.connection, calls_per_window=30, window_seconds=10.0, max_concurrency=1, daily_budget=None)
    client = MarketoClient.from_connection(settings)
    assert client.limiter.limits == RateLimits(30, 10.0, 1) and client.budget is None
    assert MarketoClient.from_connection(sandbox.connection).budget.limit == 40_000


def test_bad_limits_are_refused():
    for bad in ({"calls_per_window": 0}, {"window_seconds": 0}, {"max_concurrency": 0}):
        with pytest.raises(ValueError):
            RateLimits(**bad)


# -- the budget guard alone -----------------------------------------------------------------------
def test_budget_reads_usage_at_start_and_every_n_calls_and_stops_before_the_limit():
    readings = iter([90, 96, 100])
    reads = []

    def read():
        reads.append(1)
        return next(readings)

    budget = DailyBudget(100, read, check_every=4)
    for _ in range(4):
        budget.before_call()  # 90..93 used
    assert len(reads) == 1 and budget.estimate == 94
    for _ in range(4):
        budget.before_call()  # re-read: another integration used more meanwhile (96), then 96..99
    assert len(reads) == 2 and budget.estimate == 100
    with pytest.raises(MarketoQuotaExhausted) as caught:
        budget.before_call()
    assert caught.value.code == "daily-budget" and "100" in caught.value.message
    with pytest.raises(MarketoQuotaExhausted):
        budget.before_call()  # stays stopped
    assert len(reads) == 3  # read once more before stopping (a new day would have reset it)


def test_budget_stops_for_good_after_607():
    budget = DailyBudget(100, lambda: 0)
    budget.before_call()
    budget.quota_reached(MarketoQuotaExhausted("607", "Daily quota reached"))
    with pytest.raises(MarketoQuotaExhausted) as caught:
        budget.before_call()
    assert caught.value.code == "607"


def test_unreadable_usage_does_not_stop_the_job():
    def read():
        raise MarketoError("603", "Access denied")

    budget = DailyBudget(3, read, check_every=2)
    for _ in range(3):
        budget.before_call()  # counts its own calls instead
    with pytest.raises(MarketoQuotaExhausted):
        budget.before_call()


# -- against the sandbox's real window ----------------------------------------------------------------
def test_a_burst_of_250_calls_from_many_threads_gets_no_606():
    """The sandbox enforces 30 calls / 0.4 s for real; clients of one instance share 25 / 0.4 s."""
    sandbox = start_sandbox(seed=False, rate_limit=(30, 0.4))
    try:
        errors: list[Exception] = []

        def run(client: MarketoClient, n: int) -> None:
            try:
                for _ in range(n):
                    client.describe_leads()
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        clients = [MarketoClient.from_connection(sandbox.connection, calls_per_window=25, window_seconds=0.4,
                                                 max_concurrency=4) for _ in range(5)]
        started = time.monotonic()
        threads = [threading.Thread(target=run, args=(c, 50)) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        elapsed = time.monotonic() - started
        assert errors == []
        calls = sandbox.journal.filter(path=r"/rest/.*")
        assert len(calls) >= 250 and sandbox.journal.count(code="606") == 0
        assert elapsed >= 0.4 * (250 // 25 - 1)  # it really was paced
        assert sandbox.peak_concurrency <= 4
    finally:
        sandbox.stop()


def test_concurrent_runs_never_exceed_the_shared_concurrency_cap():
    sandbox = start_sandbox(seed=False, max_concurrency=2)
    sandbox.set_latency(0.03, path=r"/rest/v1/leads/describe\.json")
    try:
        clients = [MarketoClient.from_connection(sandbox.connection, max_concurrency=2) for _ in range(4)]
        threads = [threading.Thread(target=lambda c=c: [c.describe_leads() for _ in range(4)]) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sandbox.journal.count(path=r"/rest/v1/leads/describe\.json", code=None) == 16
        assert sandbox.journal.count(code="615") == 0 and sandbox.peak_concurrency <= 2
    finally:
        sandbox.stop()


def test_615_under_concurrency_is_retried_with_backoff():
    sandbox = start_sandbox(seed=False, max_concurrency=2)
    sandbox.set_latency(0.03, path=r"/rest/v1/leads/describe\.json")
    try:
        retry = RetryPolicy(max_attempts=10, base_delay=0.02, max_delay=0.2)
        clients = [MarketoClient.from_connection(sandbox.connection, max_concurrency=5, retry=retry,
                                                 daily_budget=None) for _ in range(5)]
        failures: list[Exception] = []

        def run(client):
            try:
                for _ in range(3):
                    assert client.describe_leads()
            except Exception as exc:  # noqa: BLE001
                failures.append(exc)

        threads = [threading.Thread(target=run, args=(c,)) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert failures == []
        assert sandbox.journal.count(code="615") > 0
        served = sandbox.journal.filter(path=r"/rest/v1/leads/describe\.json", where=lambda e: not e.codes)
        assert len(served) == 15
    finally:
        sandbox.stop()


def test_606_injected_mid_run_waits_for_the_rest_of_the_window(clock):
    sandbox = start_sandbox(seed=False, clock=clock)
    try:
        client = MarketoClient.from_connection(sandbox.connection, clock=clock, sleep=clock.sleep, rng=random.Random(1))
        sandbox.fail_next(1, code=606, after=3)
        for _ in range(6):
            client.describe_leads()
            clock.advance(2)
        codes = [e.codes for e in sandbox.journal.filter(path=r"/rest/v1/leads/.*")]
        assert codes == [(), (), (), ("606",), (), (), ()]
        (waited,) = clock.sleeps
        # our oldest call in the 20 s window (the usage read, at +0) leaves it at +20; now is +6
        assert 14 <= waited <= 15
    finally:
        sandbox.stop()
