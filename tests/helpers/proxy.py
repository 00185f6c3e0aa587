"""A loopback TCP proxy that can cut connections, to inject network faults."""

from __future__ import annotations

import contextlib
import socket
import threading

BUFFER = 64 * 1024


class TcpProxy:
    """Forwards 127.0.0.1:port to a target; `cut()` drops and refuses traffic.

    `drop_next_after(n)` closes the next connection once n bytes have gone
    from the target to the client, as a network drop in mid-body would.
    """

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self._target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._cut = False
        self._drop_after: int | None = None
        self.connections = 0
        self._closed = False
        threading.Thread(target=self._accept, name="proxy", daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cut(self) -> None:
        """Close every open connection and reset new ones until `restore()`."""
        with self._lock:
            self._cut = True
            sockets, self._open = list(self._open), set()
        for sock in sockets:
            _close(sock)

    def restore(self) -> None:
        with self._lock:
            self._cut = False

    def drop_next_after(self, byte_count: int) -> None:
        with self._lock:
            self._drop_after = byte_count

    def close(self) -> None:
        self._closed = True
        self.cut()
        _close(self._listener)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                cut, limit = self._cut, self._drop_after
                self._drop_after = None
                self.connections += 1
            if cut:
                _close(client)
                continue
            try:
                upstream = socket.create_connection(self._target, timeout=5)
            except OSError:
                _close(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open.update((client, upstream))
            pair = (client, upstream)
            threading.Thread(
                target=self._pump, args=(client, upstream, None, pair), daemon=True
            ).start()
            threading.Thread(
                target=self._pump, args=(upstream, client, limit, pair), daemon=True
            ).start()

    def _pump(
        self,
        source: socket.socket,
        sink: socket.socket,
        limit: int | None,
        pair: tuple[socket.socket, socket.socket],
    ) -> None:
        sent = 0
        try:
            while data := source.recv(BUFFER):
                if limit is not None and sent + len(data) >= limit:
                    sink.sendall(data[: max(limit - sent, 0)])
                    break
                sink.sendall(data)
                sent += len(data)
        except OSError:
            pass
        for sock in pair:
            _close(sock)
        with self._lock:
            self._open.difference_update(pair)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
