"""A small base for plugin sandboxes: local stand-ins for target APIs, stdlib only.

A plugin builds its emulator as a ``SandboxApp`` (routes + handlers over plain ``Request`` and
``Response`` objects) and serves it with ``SandboxServer`` on loopback. Every request is written
to a ``Journal`` so tests can assert what a client really sent (call counts, headers, batching),
not only what it got back. ``FaultQueue`` and ``RandomFaults`` (``sandbox_faults.py``) script
failures. Nothing here knows about any particular target application.
"""
from __future__ import annotations

import json as _json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable, Iterator, Mapping
from urllib.parse import parse_qs, urlsplit

from .sandbox_faults import FaultQueue, RandomFaults

__all__ = [
    "FaultQueue", "Journal", "JournalEntry", "RandomFaults", "Request", "Response", "Routes", "SandboxApp",
    "SandboxServer", "json_response", "text_response",
]

FORM_TYPE = "application/x-www-form-urlencoded"
POLL_SECONDS = 0.05  # how soon stop() is noticed; tests start and stop many servers


# -- requests and responses ------------------------------------------------------------------
@dataclass
class Request:
    """One HTTP request as a handler sees it. Header names are matched case-insensitively."""

    method: str
    path: str
    query: dict[str, list[str]] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    path_params: dict[str, str] = field(default_factory=dict)
    target: str = ""  # the raw request target (path + query string) as sent

    def __post_init__(self) -> None:
        self.headers = {k.lower(): v for k, v in self.headers.items()}
        if not self.target:
            self.target = self.path

    @classmethod
    def from_target(cls, method: str, target: str, headers: Mapping[str, str] | None = None,
                    body: bytes = b"") -> "Request":
        """Build a request from a raw target such as ``/a/b?x=1&x=2``."""
        parts = urlsplit(target)
        query = parse_qs(parts.query, keep_blank_values=True)
        return cls(method.upper(), parts.path, query, dict(headers or {}), body, target=target)

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    @property
    def content_type(self) -> str:
        return (self.header("Content-Type") or "").split(";")[0].strip().lower()

    def arg(self, name: str, default: str | None = None) -> str | None:
        """The first query value of ``name``."""
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        """The body parsed as JSON; raises ``ValueError`` when it is not valid JSON."""
        return _json.loads(self.body.decode("utf-8"))

    def form(self) -> dict[str, list[str]]:
        """The body parsed as an urlencoded form (empty unless the content type says so)."""
        if self.content_type != FORM_TYPE or not self.body:
            return {}
        return parse_qs(self.body.decode("utf-8"), keep_blank_values=True)

    def values(self) -> dict[str, list[str]]:
        """Query and form parameters together (query first), like a combined multi-dict."""
        merged = {k: list(v) for k, v in self.query.items()}
        for key, vals in self.form().items():
            merged.setdefault(key, []).extend(vals)
        return merged


@dataclass
class Response:
    """What a handler returns. ``codes`` are application-level codes (e.g. error codes found in
    the body) kept for the journal; ``abort`` closes the connection without answering, to
    emulate a reset."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    codes: tuple[str, ...] = ()
    abort: bool = False
    data: Any = None  # the decoded body when known, for the journal

    @classmethod
    def aborted(cls) -> "Response":
        return cls(status=0, abort=True)


def json_response(data: Any, status: int = 200, headers: Mapping[str, str] | None = None,
                  codes: Iterable[str] = ()) -> Response:
    body = _json.dumps(data, separators=(",", ":")).encode("utf-8")
    all_headers = {"Content-Type": "application/json;charset=UTF-8", **(headers or {})}
    return Response(status, all_headers, body, tuple(codes), data=data)


def text_response(text: str, status: int = 200, content_type: str = "text/plain; charset=utf-8",
                  headers: Mapping[str, str] | None = None, codes: Iterable[str] = ()) -> Response:
    all_headers = {"Content-Type": content_type, **(headers or {})}
    return Response(status, all_headers, text.encode("utf-8"), tuple(codes), data=text)


# -- journal -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class JournalEntry:
    """One served request and the answer it got."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: Any  # parsed JSON, a form dict of lists, text, or None
    headers: dict[str, str]  # only the headers of interest, lower-cased names
    status: int
    codes: tuple[str, ...]
    timestamp: float
    response: Any = None

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)


class Journal:
    """A thread-safe record of requests, with filters for test assertions."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[JournalEntry] = []

    def append(self, entry: JournalEntry) -> None:
        with self._lock:
            self._entries.append(entry)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def entries(self) -> list[JournalEntry]:
        with self._lock:
            return list(self._entries)

    def __iter__(self) -> Iterator[JournalEntry]:
        return iter(self.entries())

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def filter(self, method: str | None = None, path: str | None = None, *, status: int | None = None,
               code: str | None = None, where: Callable[[JournalEntry], bool] | None = None
               ) -> list[JournalEntry]:
        """Entries matching every given criterion. ``path`` is a regex that must match the whole
        path (a plain path matches itself); ``code`` is one of the entry's codes."""
        pattern = re.compile(path) if path is not None else None
        found = []
        for entry in self.entries():
            if method is not None and entry.method != method.upper():
                continue
            if pattern is not None and not pattern.fullmatch(entry.path):
                continue
            if status is not None and entry.status != status:
                continue
            if code is not None and str(code) not in entry.codes:
                continue
            if where is not None and not where(entry):
                continue
            found.append(entry)
        return found

    def count(self, method: str | None = None, path: str | None = None, **criteria: Any) -> int:
        return len(self.filter(method, path, **criteria))

    def last(self, method: str | None = None, path: str | None = None, **criteria: Any) -> JournalEntry | None:
        found = self.filter(method, path, **criteria)
        return found[-1] if found else None


# -- routing -------------------------------------------------------------------------------------
Handler = Callable[[Request], Response]


class Routes:
    """(method, path regex) -> handler. Named groups of the regex become ``request.path_params``."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        self._routes.append((method.upper(), re.compile(pattern), handler))

    def route(self, *methods: str, path: str) -> Callable[[Handler], Handler]:
        """Decorator form: ``@routes.route("GET", "POST", path=r"/x/(?P<id>\\d+)")``."""
        def decorate(handler: Handler) -> Handler:
            for method in methods:
                self.add(method, path, handler)
            return handler
        return decorate

    def match(self, method: str, path: str) -> tuple[Handler, dict[str, str]] | None:
        for route_method, pattern, handler in self._routes:
            if route_method == method.upper():
                found = pattern.fullmatch(path)
                if found:
                    return handler, found.groupdict()
        return None

    def allowed_methods(self, path: str) -> list[str]:
        """Methods that have a route for ``path`` (to tell 'no such path' from 'wrong method')."""
        return sorted({m for m, pattern, _ in self._routes if pattern.fullmatch(path)})


# -- the application base --------------------------------------------------------------------------
class SandboxApp:
    """Dispatches requests to routes and journals each one.

    Subclasses fill ``self.routes`` and may override ``dispatch`` (to add auth or fault injection
    in front of the routes), ``not_found``, ``method_not_allowed`` and ``server_error`` to answer
    the way the emulated API does. ``max_target_length`` / ``max_body_length`` emulate 414 / 413.
    """

    journal_headers: tuple[str, ...] = ("Authorization", "Content-Type")
    max_target_length: int | None = None
    max_body_length: int | None = None

    def __init__(self) -> None:
        self.routes = Routes()
        self.journal = Journal()
        self._server: SandboxServer | None = None

    # request handling
    def handle(self, request: Request) -> Response:
        try:
            response = self._guarded(request)
        except Exception as exc:  # a bug in a handler must still answer and be journaled
            response = self.server_error(request, exc)
        self.journal.append(self._entry(request, response))
        return response

    def _guarded(self, request: Request) -> Response:
        if self.max_target_length is not None and len(request.target) > self.max_target_length:
            return text_response("URI Too Long", 414)
        if self.max_body_length is not None and len(request.body) > self.max_body_length:
            return text_response("Request Entity Too Large", 413)
        return self.dispatch(request)

    def dispatch(self, request: Request) -> Response:
        found = self.routes.match(request.method, request.path)
        if found is None:
            allowed = self.routes.allowed_methods(request.path)
            return self.method_not_allowed(request, allowed) if allowed else self.not_found(request)
        handler, params = found
        request.path_params = params
        return handler(request)

    def not_found(self, request: Request) -> Response:
        return text_response("Not Found", 404)

    def method_not_allowed(self, request: Request, allowed: list[str]) -> Response:
        return text_response("Method Not Allowed", 405, headers={"Allow": ", ".join(allowed)})

    def server_error(self, request: Request, exc: Exception) -> Response:
        return text_response(f"Internal Server Error: {exc!r}", 500)

    def _entry(self, request: Request, response: Response) -> JournalEntry:
        wanted = {h.lower() for h in self.journal_headers}
        headers = {k: v for k, v in request.headers.items() if k in wanted}
        return JournalEntry(
            method=request.method, path=request.path, query=request.query, body=_decoded_body(request),
            headers=headers, status=response.status, codes=response.codes, timestamp=time.time(),
            response=response.data,
        )

    # serving
    def start(self, port: int = 0, host: str = "127.0.0.1") -> "SandboxApp":
        """Serve this app in a background thread; ``url`` tells where."""
        if self._server is None:
            self._server = SandboxServer(self, host=host, port=port).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox is not started")
        return self._server.url

    def __enter__(self) -> "SandboxApp":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _decoded_body(request: Request) -> Any:
    if not request.body:
        return None
    if request.content_type == FORM_TYPE:
        return request.form()
    try:
        return request.json()
    except ValueError:
        return request.body.decode("utf-8", errors="replace")


# -- the HTTP server ---------------------------------------------------------------------------------
class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real APIs and requests.Session expect
    disable_nagle_algorithm = True  # else headers and body wait on delayed ACKs: ~40 ms a call
    server_version = "ConnectorsSandbox/1.0"
    app: SandboxApp  # set on the subclass made per server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request.from_target(self.command, self.path, dict(self.headers.items()), body)
        response = self.app.handle(request)
        if response.abort:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        try:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (e.g. its read timeout)
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

    def log_message(self, format: str, *args: Any) -> None:  # the journal is the log
        pass


class SandboxServer:
    """Serves an app (anything with ``handle(Request) -> Response``) on loopback.

    ``port=0`` picks a free port. ``start()`` runs in a daemon thread (tests, the demo);
    ``serve_forever()`` runs in the foreground (``python -m <plugin>.sandbox``).
    """

    def __init__(self, app: SandboxApp, host: str = "127.0.0.1", port: int = 0):
        handler = type("SandboxHandler", (_Handler,), {"app": app})
        self._httpd = ThreadingHTTPServer((host, port), handler)
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return self._httpd.server_address[0]

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> "SandboxServer":
        if self._thread is None:
            self._thread = threading.Thread(target=self._httpd.serve_forever, args=(POLL_SECONDS,),
                                            name=f"sandbox:{self.port}", daemon=True)
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        try:
            self._httpd.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            self._httpd.server_close()

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> "SandboxServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
