"""One bounded wrk run against one URL, and what it measured."""
from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "wrk" / "api.lua"
REQUEST_TIMEOUT = "10s"  # a request slower than this counts as an error (wrk's default is 2 s)


@dataclass
class Load:
    threads: int
    connections: int
    duration: int  # seconds
    bodies: Path


@dataclass
class Result:
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    answer_errors: int  # not HTTP 200, or an `error` in the body
    socket_errors: int  # connect, read, write, timeout
    orders: int  # `{"order": …}` answers (add scenarios)
    sample: str  # the first bad answer, to say why

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return self.answer_errors + self.socket_errors


def wrk_binary() -> str:
    binary = shutil.which("wrk")
    if binary is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk (make bench does it)")
    return binary


def wrk_version() -> str:
    answer = subprocess.run([wrk_binary(), "-v"], capture_output=True, text=True, timeout=10)
    return (answer.stdout or answer.stderr).splitlines()[0].split(" Copyright")[0].strip()


def command(load: Load, url: str, scenario: str, tag: str, duration: int | None = None) -> list[str]:
    return [
        wrk_binary(), f"--threads={load.threads}", f"--connections={load.connections}",
        f"--duration={duration or load.duration}s", f"--timeout={REQUEST_TIMEOUT}", f"--script={SCRIPT}",
        url, "--", str(load.bodies), scenario, tag,
    ]


def run(load: Load, url: str, scenario: str, tag: str, duration: int | None = None) -> Result:
    """Run wrk for `duration` seconds (bounded: killed if it overruns by a minute)."""
    seconds = duration or load.duration
    process = subprocess.Popen(
        command(load, url, scenario, tag, duration), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=seconds + 60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    line = next((l for l in output.splitlines() if l.startswith("BENCH_JSON ")), None)
    if process.returncode != 0 or line is None:
        raise SystemExit(f"wrk failed ({process.returncode}) on {url} [{scenario}]:\n{output[-2000:]}")
    data = json.loads(line.removeprefix("BENCH_JSON "))
    sockets = data["socket_errors"]
    return Result(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        answer_errors=data["answer_errors"],
        socket_errors=sockets["connect"] + sockets["read"] + sockets["write"] + sockets["timeout"],
        orders=data["orders"],
        sample=data["sample"],
    )
