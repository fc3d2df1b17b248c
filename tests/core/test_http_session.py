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


def test_netrc_credentials_are_used_and_looked_up_once_per_host(monkeypatch, tmp_path):
    import requests

    netrc = tmp_path / "netrc"
    netrc.write_text("machine api.example login ann password s3cret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    session = TimeoutSession()
    with_credentials = session.prepare_request(requests.Request("GET", "https://api.example/a"))
    assert with_credentials.headers["Authorization"] == requests.auth._basic_auth_str("ann", "s3cret")
    without = session.prepare_request(requests.Request("GET", "https://other.example/a"))
    assert "Authorization" not in without.headers
    netrc.write_text("machine other.example login bob password x\n")  # this session keeps what it read
    assert "Authorization" not in session.prepare_request(requests.Request("GET", "https://other.example/b")).headers
    assert session.prepare_request(requests.Request("GET", "https://api.example/b")).headers["Authorization"] == \
        with_credentials.headers["Authorization"]
    # credentials of the request's own win over the file's
    own = session.prepare_request(requests.Request("GET", "https://api.example/c", auth=("me", "pw")))
    assert own.headers["Authorization"] == requests.auth._basic_auth_str("me", "pw")
