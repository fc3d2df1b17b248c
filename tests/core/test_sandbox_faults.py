"""The sandboxes' shared fault queue and random draw: faults taken in order by the call they wait
for (host and path), the plugin's rule for faults without a path, and a seeded, repeatable draw."""
import pytest

from connectors.sandbox import FaultQueue, RandomFaults


def test_faults_wait_in_order_for_their_host_and_path():
    queue: FaultQueue[str] = FaultQueue()
    queue.add("login-401", host="login")
    queue.add("503", times=2, path=r"/api/.*")
    queue.add("any")
    assert len(queue) == 4
    assert queue.take("/other") == "any"  # the path-bound faults wait for their path
    assert queue.take("/API/x") is None  # patterns are case-sensitive unless told
    assert [queue.take("/api/x"), queue.take("/api/y"), queue.take("/api/z")] == ["503", "503", None]
    assert queue.take("/id", host="login") == "login-401" and len(queue) == 0
    queue.add("x")
    queue.clear()
    assert queue.take("/") is None


def test_a_plugins_rules_for_case_and_faults_without_a_path():
    queue: FaultQueue[str] = FaultQueue(ignore_case=True, default=lambda path: not path.startswith("/stats"))
    queue.add("case", path=r"/api/.*")
    queue.add("plain")
    assert queue.take("/stats/usage") is None  # a fault without a path leaves bookkeeping alone
    assert queue.take("/API/X") == "case" and queue.take("/stats/usage") is None
    queue.add("stats", path=r"/stats/.*")
    assert queue.take("/stats/usage") == "stats"


def test_random_faults_are_seeded_and_bounded_to_their_path():
    def drawn(seed: int) -> list:
        faults: RandomFaults[str] = RandomFaults()
        faults.configure(0.5, ["a", "b"], seed=seed, path=r"/api/.*")
        return [faults.draw("/api/x") for _ in range(20)] + [faults.draw("/other")]

    first = drawn(3)
    assert first == drawn(3) and first[-1] is None
    assert {"a", "b"} <= set(first) and None in first
    faults: RandomFaults[str] = RandomFaults()
    assert faults.draw("/api/x") is None  # off until configured
    faults.configure(1, ["a"])
    assert [faults.draw("/x") for _ in range(3)] == ["a"] * 3 and faults.drawn == 3
    with pytest.raises(ValueError):
        faults.configure(1.5, ["a"])
    with pytest.raises(ValueError):
        faults.configure(0.5, [])
