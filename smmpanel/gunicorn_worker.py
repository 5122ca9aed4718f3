"""gunicorn's sync worker, answering the errors gunicorn writes itself the API's way.

API.md: every answer of the reseller API is HTTP 200 JSON, never a 4xx/5xx or an HTML page
(clients read the body and break on anything else). Two answers come from gunicorn, not Django:

- Its request limits (gunicorn.conf.py: request line, header count and size) are checked before
  the application sees the request; it stops reading at the limit, so memory stays bounded.
  The path is not known yet then, so every path gets `{"error": "Request too large"}`.
- A request still running at the worker timeout (a client that never sends the body its
  Content-Length announced, or a stuck request) is aborted: on an API path it gets the API's
  `{"error": "Internal error"}` (what the API answers for any failure of its own).

Any other malformed request keeps gunicorn's own answer: it does not come from an API client.
"""
from __future__ import annotations

import json
import re

from gunicorn import util
from gunicorn.http.errors import LimitRequestHeaders, LimitRequestLine
from gunicorn.workers.sync import SyncWorker

API_PATH = re.compile(r"/api/v[12]/?|/api\.php/?")  # smmpanel/urls.py's API routes


def api_error(message: str) -> bytes:
    """A complete HTTP answer with the bytes DRF's JSONRenderer writes for the same error."""
    body = json.dumps({"error": message}, separators=(",", ":")).encode()
    head = f"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


REQUEST_TOO_LARGE = api_error("Request too large")
INTERNAL_ERROR = api_error("Internal error")


class ApiLimitsSyncWorker(SyncWorker):
    def handle_error(self, req, client, addr, exc):
        if isinstance(exc, (LimitRequestLine, LimitRequestHeaders)):
            self.log.warning("Request too large from ip=%s: %s", (addr or ("",))[0], exc)
            answer = REQUEST_TOO_LARGE
        elif isinstance(exc, SystemExit) and req is not None and API_PATH.fullmatch(req.path or ""):
            # The worker timeout's abort (handle_abort exits); gunicorn would write an HTML 500.
            self.log.warning("Worker timeout during %s %s", req.method, req.path)
            answer = INTERNAL_ERROR
        else:
            return super().handle_error(req, client, addr, exc)
        try:
            util.write_nonblock(client, answer)
        except Exception:  # the client may be gone already; nothing else to do for it
            self.log.debug("Failed to send the API error answer.")
