"""The process's pending request-log rows, appended by request threads and taken in one piece to
be written. Appending is a lock and a list append: the request never waits for the database.
"""
from __future__ import annotations

import threading
import time


class RequestBuffer:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: list = []
        self._oldest = 0.0  # time.monotonic() of the first row pending

    def append(self, row) -> None:
        with self._lock:
            if not self._rows:
                self._oldest = time.monotonic()
            self._rows.append(row)

    def due(self, *, size: int, age_seconds: float) -> bool:
        """Whether the rows pending are `size` or more, or the oldest waited `age_seconds`."""
        with self._lock:
            return bool(self._rows) and (
                len(self._rows) >= size or time.monotonic() - self._oldest >= age_seconds
            )

    def take(self) -> list:
        """Everything pending, leaving the buffer empty (two flushing threads never share a row)."""
        with self._lock:
            rows, self._rows = self._rows, []
        return rows

    def __len__(self) -> int:
        return len(self._rows)


pending = RequestBuffer()
