"""A stub provider panel: a real HTTP server on a free loopback port with canned answers per action.

It answers the way other panels (and broken ones) do, which our own panel never would:

    panel.reply("balance", {"balance": "12.5", "currency": "USD"})       # JSON, HTTP 200
    panel.reply("add", Reply(body=b"<html>502</html>", status=502))      # raw bytes, any status
    panel.reply("add", Reply(json={"order": 7}, delay=2.0))              # answer after 2 s
    panel.reply("add", Reply(drop=True))                                 # close without answering
    panel.reply("add", Reply(json={"order": 7}, cut_after=5))            # hang up mid-answer
    panel.reply("status", lambda fields: {i: {...} for i in fields["orders"].split(",")})
    panel.reply("status", first, second)                                 # in turn; the last repeats

Every request is recorded (`panel.requests`: action, decoded form fields, headers) whatever the
answer, so a test can prove what was sent. An action without a reply answers
`{"error": "Invalid action"}`.
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

_NO_JSON = object()


@dataclass(frozen=True)
class Reply:
    json: Any = _NO_JSON  # encoded as the body when given
    body: bytes = b""  # raw body otherwise
    status: int = 200
    content_type: str = "application/json"
    delay: float = 0.0  # seconds before answering (past the client's read timeout: a slow panel)
    drop: bool = False  # close the connection without any answer
    cut_after: int | None = None  # announce the whole body, send this many bytes, hang up
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> bytes:
        return self.body if self.json is _NO_JSON else json.dumps(self.json).encode()


@dataclass(frozen=True)
class Recorded:
    action: str
    fields: dict[str, str]
    headers: dict[str, str]


Answer = Reply | Callable[[dict[str, str]], Any] | Any


class StubPanel:
    def __init__(self):
        self.requests: list[Recorded] = []
        self._replies: dict[str, list[Answer]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._server.block_on_close = False  # a slow reply still sleeping must not hold up the test
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/api/v2"

    def reply(self, action: str, *answers: Answer) -> None:
        """Answer `action` with these, in turn; the last one repeats."""
        with self._lock:
            self._replies[action.lower()] = list(answers)

    def calls(self, action: str) -> list[Recorded]:
        return [request for request in self.requests if request.action == action]

    def start(self) -> StubPanel:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _next_reply(self, action: str, fields: dict[str, str]) -> Reply:
        with self._lock:
            answers = self._replies.get(action.lower())
            answer = (answers.pop(0) if len(answers) > 1 else answers[0]) if answers else Reply(
                json={"error": "Invalid action"}
            )
        if callable(answer) and not isinstance(answer, Reply):
            answer = answer(fields)
        return answer if isinstance(answer, Reply) else Reply(json=answer)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        panel = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                fields = dict(parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True))
                action = fields.get("action", "")
                with panel._lock:
                    panel.requests.append(Recorded(action=action, fields=fields, headers=dict(self.headers)))
                reply = panel._next_reply(action, fields)
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.drop:
                    self.close_connection = True
                    self.connection.close()
                    return
                body = reply.encoded()
                self.close_connection = True
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    self.send_header("Content-Length", str(len(body)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(body if reply.cut_after is None else body[: reply.cut_after])
                except OSError:  # the client gave up waiting (a slow reply past its timeout)
                    pass

            def log_message(self, format, *args):  # keep test output clean
                pass

        return Handler
