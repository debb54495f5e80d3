"""A real HTTP server standing in for a chat or CI webhook: it records what it is sent,
answers 500 or never answers when asked to (the notify tests' receiving end)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Webhook:
    """A real HTTP server that records what it is sent; `mode` is ok, error or hang."""

    def __init__(self, mode: str = "ok") -> None:
        self.mode = mode
        self.received: list[dict] = []
        self.paths: list[str] = []
        self.arrived = threading.Condition()
        self.release = threading.Event()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if hook.mode == "hang":
                    hook.release.wait(30)
                    return
                with hook.arrived:
                    hook.received.append(json.loads(body))
                    hook.paths.append(self.path)
                    hook.arrived.notify_all()
                self.send_response(500 if hook.mode == "error" else 200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def url(self, path: str = "/services/T0/B0/s3cretT0ken") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.received) >= count, timeout)
        return self.received

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
