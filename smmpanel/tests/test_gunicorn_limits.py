"""The request limits against a real gunicorn started as in production (`-c gunicorn.conf.py`,
production settings): the request line, the headers, the body, and a client that stops sending.

gunicorn answers its own limits before Django sees the request; smmpanel.gunicorn_worker makes
that answer API.md's HTTP 200 JSON `Request too large`. Raw sockets, so the exact bytes are sent.
"""
from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import pytest
import requests

from orders.tests.live_processes import Process, wait_for
from smmpanel.tests.gunicorn_server import running_gunicorn

TOO_LARGE = {"error": "Request too large"}
# Short, so the stalled-upload test waits seconds, not gunicorn.conf.py's 30.
WORKER_TIMEOUT = 6


@dataclass
class Gunicorn:
    process: Process
    base: str
    key: str

    @property
    def port(self) -> int:
        return int(self.base.rpartition(":")[2])

    def raw(self, request: bytes, *, read_timeout: float = 30) -> bytes:
        """Send `request` as is and read until the server closes the connection."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=read_timeout) as sock:
            try:
                sock.sendall(request)
            except (BrokenPipeError, ConnectionResetError):  # it answered and closed before the end
                pass
            chunks = []
            try:
                while chunk := sock.recv(65536):
                    chunks.append(chunk)
            except ConnectionResetError:
                pass
            return b"".join(chunks)


def parse(response: bytes) -> tuple[str, dict[str, str], object]:
    head, _, body = response.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    return status, headers, json.loads(body)


def api_answer(response: bytes) -> object:
    status, headers, body = parse(response)
    assert status == "HTTP/1.1 200 OK", response[:300]
    assert headers["content-type"] == "application/json", headers
    return body


@pytest.fixture
def gunicorn(transactional_db, tmp_path) -> Iterator[Gunicorn]:
    from accounts.tests.factories import reseller_with_key

    reseller = reseller_with_key("alice", Decimal("100"))
    with running_gunicorn(tmp_path, "--workers", "2", "--timeout", str(WORKER_TIMEOUT)) as (web, base):
        yield Gunicorn(process=web, base=base, key=reseller.key)


def get(path: str, headers: list[str] = ()) -> bytes:
    return "\r\n".join([f"GET {path} HTTP/1.1", "Host: 127.0.0.1", *headers, "", ""]).encode()


def test_request_line_and_headers_beyond_the_limits_answer_json(gunicorn):
    prefix = f"/api/v2?key={gunicorn.key}&action=balance&padding="
    room = 8190 - len(f"GET {prefix} HTTP/1.1")
    balance = {"balance": "100.00", "currency": "TRY"}
    # exactly 8 190 bytes of request line: served
    assert api_answer(gunicorn.raw(get(prefix + "x" * room))) == balance
    # one byte more, or far more, on any path: gunicorn's limit, answered as the API's JSON
    for path in (prefix + "x" * (room + 1), prefix + "x" * 60_000, "/admin/?" + "x" * 9000):
        response = gunicorn.raw(get(path))
        assert api_answer(response) == TOO_LARGE
        assert parse(response)[1]["content-length"] == str(len(b'{"error":"Request too large"}'))
    # a megabyte of request line is cut off at the limit, not buffered: the answer is the same
    response = gunicorn.raw(get(prefix + "x" * 1_000_000))
    assert response == b"" or api_answer(response) == TOO_LARGE  # or reset while still sending

    # headers: up to 100, each up to 8 190 bytes
    path = f"/api/v2?key={gunicorn.key}&action=balance"
    assert api_answer(gunicorn.raw(get(path, [f"X-Pad-{n}: {n}" for n in range(90)]))) == balance
    assert api_answer(gunicorn.raw(get(path, [f"X-Pad-{n}: {n}" for n in range(101)]))) == TOO_LARGE
    assert api_answer(gunicorn.raw(get(path, ["X-Pad: " + "x" * 8000]))) == balance
    assert api_answer(gunicorn.raw(get(path, ["X-Pad: " + "x" * 9000]))) == TOO_LARGE

    # a body over 1 MB, announced by its Content-Length, is refused by the application's check
    body = f"key={gunicorn.key}&action=balance&padding=".encode() + b"x" * (1024 * 1024)
    response = gunicorn.raw(b"POST /api/v2 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                            b"Content-Type: application/x-www-form-urlencoded\r\n"
                            b"Content-Length: %d\r\n\r\n" % len(body) + body)
    assert api_answer(response) == TOO_LARGE
    # other malformed requests keep gunicorn's own answer: they are not from an API client
    assert parse_status(gunicorn.raw(b"GET /api/v2 HTTP/9.9\r\nHost: 127.0.0.1\r\n\r\n")).startswith("HTTP/1.1 400")
    assert gunicorn.process.alive()
    assert "Request too large from ip=127.0.0.1" in gunicorn.process.log()


def parse_status(response: bytes) -> str:
    return response.partition(b"\r\n")[0].decode("latin-1")


def test_a_body_shorter_than_its_content_length_holds_a_worker_only_until_the_timeout(gunicorn):
    """The sync worker blocks reading the missing bytes; gunicorn's timeout kills and replaces it."""
    stalled = (b"POST /api/v2 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n"
               b"key=" + gunicorn.key.encode())
    # The server ends the request by itself (the client never sends the rest), with the API's
    # JSON, not gunicorn's HTML 500 ...
    response = gunicorn.raw(stalled, read_timeout=10 * WORKER_TIMEOUT)
    assert api_answer(response) == {"error": "Internal error"}
    assert "WORKER TIMEOUT" in gunicorn.process.log()
    # ... and keeps serving: the killed worker is replaced.
    def serves():
        response = requests.post(f"{gunicorn.base}/api/v2", data={"key": gunicorn.key, "action": "balance"}, timeout=10)
        return response.json() == {"balance": "100.00", "currency": "TRY"}

    assert wait_for(serves, timeout=60, interval=0.5, message="gunicorn serving again")
    assert gunicorn.process.alive()
