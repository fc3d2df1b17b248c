"""A TCP proxy between our processes and a real server, which a test can cut and restore.

To a client, ``down()`` looks like the server going away: open connections are closed under it
and new ones are closed as soon as they are accepted ("server closed the connection
unexpectedly" on PostgreSQL). ``up()`` lets connections through again. The server itself is
never touched, so a test can take "the database" away without restarting the machine's one.
"""
from __future__ import annotations

import socket
import threading
from contextlib import suppress


class TcpProxy:
    def __init__(self, upstream_host: str, upstream_port: int):
        self.upstream = (upstream_host, upstream_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._up = True
        self._closed = False
        self.refused = 0  # connections closed at once while down (a test can wait on it)
        threading.Thread(target=self._accept, name=f"proxy:{self.port}", daemon=True).start()

    def url_for(self, url: str) -> str:
        """``url`` (a SQLAlchemy or AMQP URL naming the upstream host:port) through this proxy."""
        host, port = self.upstream
        return url.replace(f"{host}:{port}", f"127.0.0.1:{self.port}", 1)

    def down(self) -> None:
        with self._lock:
            self._up = False
            sockets, self._open = list(self._open), set()
        for sock in sockets:
            _close(sock)

    def up(self) -> None:
        with self._lock:
            self._up = True

    def close(self) -> None:
        self._closed = True
        self.down()
        _close(self._listener)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                up = self._up
            if not up:
                self.refused += 1
                _close(client)
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._open.update((client, server))
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                target.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                _close(sock)
                with self._lock:
                    self._open.discard(sock)


def _close(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with suppress(OSError):
        sock.close()
