"""The plugins' HTTP session: proxy settings come from the environment, read once per host."""
from connectors.jobs.context import TimeoutSession


def settings(session, url):
    return session.merge_environment_settings(url, {}, None, None, None)


def test_environment_proxies_and_no_proxy_are_honoured_and_kept_for_the_sessions_life(monkeypatch):
    for name in ("HTTP_PROXY", "http_proxy", "https_proxy", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "internal.example")
    session = TimeoutSession()
    assert settings(session, "https://123.mktorest.com/rest/v1/leads.json")["proxies"]["https"] == "http://proxy.example:3128"
    assert "https" not in settings(session, "https://internal.example/api")["proxies"]
    monkeypatch.setenv("HTTPS_PROXY", "http://other.example:8080")
    # this session keeps what it read for that host; a new session reads the environment again
    assert settings(session, "https://123.mktorest.com/identity")["proxies"]["https"] == "http://proxy.example:3128"
    assert settings(TimeoutSession(), "https://123.mktorest.com/x")["proxies"]["https"] == "http://other.example:8080"
    # what a caller does to the answer does not leak into the next one
    settings(session, "https://123.mktorest.com/x")["proxies"].clear()
    assert settings(session, "https://123.mktorest.com/x")["proxies"]["https"] == "http://proxy.example:3128"
