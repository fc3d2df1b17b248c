"""The shared sandbox base: routing, request parsing, journal, and serving over real HTTP."""
from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

import pytest

from connectors.sandbox import (
    Journal, JournalEntry, Request, Response, Routes, SandboxApp, SandboxServer, json_response, text_response,
)


class EchoApp(SandboxApp):
    max_target_length = 200
    max_body_length = 100

    def __init__(self):
        super().__init__()
        self.routes.add("GET", r"/items/(?P<id>\d+)", self.item)
        self.routes.add("POST", r"/echo", self.echo)
        self.routes.add("GET", r"/boom", self.boom)
        self.routes.add("GET", r"/drop", lambda request: Response.aborted())

    def item(self, request):
        return json_response({"id": int(request.path_params["id"]), "q": request.query}, codes=("ok",))

    def echo(self, request):
        body = request.form() if request.content_type == "application/x-www-form-urlencoded" else request.json()
        return json_response({"body": body, "auth": request.header("authorization")})

    def boom(self, request):
        raise RuntimeError("handler bug")


@pytest.fixture
def app():
    app = EchoApp().start()
    yield app
    app.stop()


def call(url, method="GET", body=None, headers=None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


# -- pieces, without a server
def test_request_parses_target_query_form_and_json():
    req = Request.from_target("post", "/a/b?x=1&x=2&y=", {"Content-Type": "application/x-www-form-urlencoded"},
                              b"x=3&z=4")
    assert (req.method, req.path) == ("POST", "/a/b")
    assert req.query == {"x": ["1", "2"], "y": [""]}
    assert req.arg("x") == "1" and req.arg("missing", "d") == "d"
    assert req.form() == {"x": ["3"], "z": ["4"]}
    assert req.values() == {"x": ["1", "2", "3"], "y": [""], "z": ["4"]}
    assert req.header("CONTENT-TYPE").startswith("application/x-www")
    assert Request("POST", "/", body=b'{"a": [1]}').json() == {"a": [1]}
    with pytest.raises(ValueError):
        Request("POST", "/", body=b"not json").json()


def test_form_is_empty_unless_the_content_type_is_a_form():
    assert Request("POST", "/", headers={"Content-Type": "application/json"}, body=b"a=1").form() == {}


def test_response_helpers():
    r = json_response({"a": 1}, 201, headers={"X-A": "b"}, codes=["606"])
    assert (r.status, json.loads(r.body), r.headers["X-A"], r.codes) == (201, {"a": 1}, "b", ("606",))
    assert r.headers["Content-Type"].startswith("application/json")
    t = text_response("<h1>x</h1>", 502, content_type="text/html")
    assert (t.status, t.body, t.headers["Content-Type"]) == (502, b"<h1>x</h1>", "text/html")


def test_routes_match_named_groups_and_tell_wrong_method_from_unknown_path():
    routes = Routes()

    @routes.route("GET", "POST", path=r"/lists/(?P<id>\d+)\.json")
    def handler(request):
        return Response()

    assert routes.match("get", "/lists/12.json") == (handler, {"id": "12"})
    assert routes.match("GET", "/lists/x.json") is None
    assert routes.match("DELETE", "/lists/12.json") is None
    assert routes.allowed_methods("/lists/12.json") == ["GET", "POST"]
    assert routes.allowed_methods("/nowhere") == []


def entry(method="GET", path="/a", status=200, codes=(), **kw):
    return JournalEntry(method, path, kw.get("query", {}), None, kw.get("headers", {}), status, codes, 0.0)


def test_journal_filters_counts_and_is_thread_safe():
    journal = Journal()
    threads = [threading.Thread(target=lambda: [journal.append(entry()) for _ in range(100)]) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(journal) == 800
    journal.clear()
    journal.append(entry("GET", "/rest/v1/lists/1.json", codes=("1013",)))
    journal.append(entry("POST", "/rest/v1/leads.json", status=502, query={"_method": ["GET"]}))
    assert journal.count("GET") == 1
    assert journal.count(path=r"/rest/v1/lists/\d+\.json") == 1
    assert journal.count(path="/rest/v1/lists") == 0  # a path matches whole, not as a prefix
    assert journal.count(code="1013") == 1 and journal.count(status=502) == 1
    assert journal.last(where=lambda e: e.param("_method") == "GET").method == "POST"
    assert journal.last("DELETE") is None


# -- served over HTTP
def test_serves_routes_and_journals_each_request(app):
    status, headers, body = call(f"{app.url}/items/7?x=1", headers={"Authorization": "Bearer t", "X-Other": "no"})
    assert status == 200 and json.loads(body) == {"id": 7, "q": {"x": ["1"]}}
    (e,) = app.journal.entries()
    assert (e.method, e.path, e.query, e.status, e.codes) == ("GET", "/items/7", {"x": ["1"]}, 200, ("ok",))
    assert e.header("Authorization") == "Bearer t" and "x-other" not in e.headers
    assert e.response == {"id": 7, "q": {"x": ["1"]}} and e.timestamp > 0


def test_posted_json_and_form_bodies_reach_the_handler_and_the_journal(app):
    status, _, body = call(f"{app.url}/echo", "POST", b'{"k": "v"}', {"Content-Type": "application/json"})
    assert json.loads(body)["body"] == {"k": "v"}
    call(f"{app.url}/echo", "POST", b"a=1&a=2", {"Content-Type": "application/x-www-form-urlencoded"})
    assert [e.body for e in app.journal] == [{"k": "v"}, {"a": ["1", "2"]}]


def test_unknown_path_wrong_method_and_handler_bug(app):
    assert call(f"{app.url}/nope")[0] == 404
    status, headers, _ = call(f"{app.url}/echo")
    assert status == 405 and headers["Allow"] == "POST"
    status, _, body = call(f"{app.url}/boom")
    assert status == 500 and b"handler bug" in body
    assert [e.status for e in app.journal] == [404, 405, 500]


def test_size_guards_answer_414_and_413(app):
    assert call(f"{app.url}/items/1?q={'x' * 300}")[0] == 414
    assert call(f"{app.url}/echo", "POST", b"{}" + b" " * 200, {"Content-Type": "application/json"})[0] == 413


def test_aborted_response_drops_the_connection(app):
    with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
        urllib.request.urlopen(f"{app.url}/drop", timeout=5).read()
    assert app.journal.last().path == "/drop"


def test_server_picks_a_free_port_serves_concurrently_and_stops():
    app = EchoApp()
    with SandboxServer(app, port=0) as server:
        assert server.port > 0 and server.url == f"http://127.0.0.1:{server.port}"
        results = []
        threads = [threading.Thread(target=lambda: results.append(call(f"{server.url}/items/1")[0])) for _ in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == [200] * 10
    with pytest.raises(OSError):
        call(f"{server.url}/items/1")


def test_app_url_needs_a_started_server():
    with pytest.raises(RuntimeError):
        EchoApp().url
