"""The HTTP server under every protocol fake (providers, sb-cli): 127.0.0.1, a free port,
one thread, each request handed to the fake's `_handle`."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LoopbackServer:
    name = "fake"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None
        self.reset()

    def reset(self) -> None:
        raise NotImplementedError

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        raise NotImplementedError

    @property
    def root(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep pytest output clean
                pass

            def _serve(self) -> None:
                fake._handle(self)

            do_GET = do_POST = do_DELETE = do_HEAD = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, name=f"fake-{self.name}", daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
