"""A TCP proxy the tests can cut and restore, to take a database or Redis away from liveloop, and
watch: what the client sent, and a hook run before each reply is passed on."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable


class CuttableProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._up = True
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self.recording = False
        self.sent = bytearray()  # what clients sent through the proxy while `recording`
        # Called with each chunk of a server's reply before it is passed on; the client waits meanwhile.
        self.before_reply: Callable[[bytes], None] | None = None
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        """Drop every open connection and refuse new ones, as a network partition would."""
        with self._lock:
            self._up = False
            for conn in self._conns:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                conn.close()
            self._conns.clear()

    def restore(self) -> None:
        with self._lock:
            self._up = True

    def _accept(self) -> None:
        while True:
            client, _ = self._listener.accept()
            with self._lock:
                if not self._up:
                    client.close()
                    continue
                try:
                    upstream = socket.create_connection(self._target)
                except OSError:
                    client.close()
                    continue
                self._conns += [client, upstream]
            for a, b, outgoing in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(target=self._pipe, args=(a, b, outgoing), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, outgoing: bool) -> None:
        try:
            while data := src.recv(65536):
                if outgoing and self.recording:
                    with self._lock:
                        self.sent += data
                elif self.before_reply is not None:
                    self.before_reply(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.close()
                except OSError:
                    pass
