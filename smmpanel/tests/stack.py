"""The production stack outside Docker, for the tests that run it as real processes.

- `compose_service`, `compose_command`, `compose_environment` read docker-compose.yml, with
  Compose's own interpolation (`${VAR}`, `${VAR:-default}`, `${VAR:?error}`, `$$`), so a test
  that starts a worker or beat runs exactly the container's command and breaks if the file drifts.
- `production_env` is the environment a container gets (the compose file's, with test secrets),
  pointed at servers on this machine: the hosts `db` and `redis` and the path `/app` exist only
  inside the compose network and image.
- `start_gunicorn` runs web's compose command with those settings (DEBUG off) on a free port.
- `PrivatePostgres` is a PostgreSQL cluster of the test's own (initdb, a free port) that a test
  may stop and start again, never the shared server the rest of the suite uses.
"""
from __future__ import annotations

import os
import pwd
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import psycopg
import pytest
import requests
import yaml

from orders.tests.live_processes import ROOT, Process, Processes, free_port, wait_for

COMPOSE_FILE = ROOT / "docker-compose.yml"
# The venv's scripts (gunicorn, celery, python) first, as the image's PATH has them.
BIN_DIR = str(Path(sys.executable).parent)
# What the test passes for the variables .env must set.
COMPOSE_VARIABLES = {
    "SECRET_KEY": "a-production-like-secret-key-for-the-stack-tests-only",
    "POSTGRES_PASSWORD": "unused-the-tests-point-DATABASE_URL-elsewhere",
    "ALLOWED_HOSTS": "panel.example.com",
}

_VARIABLE = re.compile(r"\$(?:(?P<dollar>\$)|\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|(?P<bare>\w+))")


def interpolate(text: str, variables: Mapping[str, str]) -> str:
    """Compose's interpolation of one value: `$$` is a literal `$` (the shell in the container
    expands what follows), `${VAR:-x}` / `${VAR-x}` default, `${VAR:?msg}` / `${VAR?msg}` required."""

    def substitute(match: re.Match) -> str:
        if match["dollar"]:
            return "$"
        name = match["name"] or match["bare"]
        value = variables.get(name)
        op = match["op"] or ""
        missing = value is None or (op.startswith(":") and value == "")
        if missing and op.endswith("-"):
            return match["arg"]
        if missing and op.endswith("?"):
            raise ValueError(f"docker-compose.yml requires {name}: {match['arg']}")
        return value or ""

    return _VARIABLE.sub(substitute, text)


def compose_service(name: str) -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())["services"][name]


def compose_command(name: str) -> list[str]:
    """The argv a service's container runs (its `command`, interpolated)."""
    command = compose_service(name)["command"]
    assert isinstance(command, list), f"{name}: keep `command` an exec-form list"
    return [interpolate(part, COMPOSE_VARIABLES) for part in command]


def compose_environment(name: str, variables: Mapping[str, str] = COMPOSE_VARIABLES) -> dict[str, str]:
    return {key: interpolate(str(value), variables) for key, value in compose_service(name)["environment"].items()}


def production_env(service: str, *, database_url: str, redis_url: str | None, var_dir: Path,
                   **extra: str) -> dict[str, str]:
    """A container's environment for `service`, with DEBUG off, on servers of this machine.
    Without `redis_url` the broker and cache are the embedded ones (filesystem, local memory)."""
    env = {
        # Only what a process needs from the host: nothing of the test's own settings leaks in.
        "PATH": f"{BIN_DIR}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        **compose_environment(service),
        "DATABASE_URL": database_url,
        "VAR_DIR": str(var_dir),
    }
    env.pop("REDIS_URL")
    if "PROMETHEUS_MULTIPROC_DIR" in env:  # web's tmpfs: an empty directory of this run's own
        env["PROMETHEUS_MULTIPROC_DIR"] = str(_empty_dir(var_dir / "prometheus"))
    if redis_url:
        env["REDIS_URL"] = redis_url
    env.update(extra)
    return env


def _empty_dir(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def start_gunicorn(group: Processes, env: Mapping[str, str], *, workers: int = 2, name: str = "gunicorn",
                   extra: tuple[str, ...] = ()) -> tuple[Process, str]:
    """web's compose command on a free port of 127.0.0.1 with `workers` gunicorn workers (its
    WEB_CONCURRENCY), `extra` options appended; returns it and its base URL once it answers."""
    port = free_port()
    shell, flag, script = compose_command("web")
    assert (shell, flag) == ("sh", "-c") and "${WEB_CONCURRENCY}" in script, script
    script, binds = re.subn(r"--bind \S+", f"--bind 127.0.0.1:{port}", script)
    assert binds == 1, f"web's command should --bind once: {script}"
    # gunicorn's control socket is one path per user ($HOME/.gunicorn/gunicorn.ctl): two
    # servers at once (the rate-limit test runs two) would take it from each other.
    script = " ".join([script, *map(shlex.quote, ("--no-control-socket", *extra))])
    web = group.spawn(name, [shell, flag, script], {**env, "WEB_CONCURRENCY": str(workers)})
    base = f"http://127.0.0.1:{port}"

    def answers():
        assert web.alive(), web.log()
        try:
            return requests.get(f"{base}/health/live/", timeout=10).status_code
        except requests.ConnectionError:
            return None

    status = wait_for(answers, timeout=90, interval=0.2, message=f"{name} to answer")
    assert status == 200, web.log()[-5000:]
    return web, base


def start_compose_service(group: Processes, service: str, env: Mapping[str, str], *, ready: str) -> Process:
    """A service's container command as a process; returned once its log shows `ready`."""
    process = group.spawn(service, compose_command(service), dict(env))
    wait_for(lambda: ready in process.log() or not process.alive(), timeout=90, message=f"{service}: {ready!r}")
    assert process.alive(), process.log()
    return process


def run_compose_service(service: str, env: Mapping[str, str]) -> str:
    """A one-shot service's command (migrate) to completion; its output."""
    return _run(compose_command(service), env)


def manage(env: Mapping[str, str], *args: str) -> str:
    """A manage.py command with a stack's environment (an operator's `docker compose exec web …`)."""
    return _run([sys.executable, "manage.py", *args], env)


def _run(argv: list[str], env: Mapping[str, str]) -> str:
    done = subprocess.run(argv, cwd=ROOT, env=dict(env), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{argv}: {done.stdout}\n{done.stderr}"
    return done.stdout


def health_report(base: str) -> tuple[int, dict[str, str]] | None:
    """`/health/` as JSON: (HTTP status, {check: result}); None when web does not answer at all."""
    try:
        response = requests.get(f"{base}/health/", params={"format": "json"}, timeout=30)
    except requests.ConnectionError:
        return None
    return response.status_code, response.json()


def all_ok(report: tuple[int, dict[str, str]] | None) -> bool:
    return report is not None and report[0] == 200 and set(report[1].values()) == {"OK"}


# --- a private PostgreSQL ------------------------------------------------------------------------

def _postgres_bin() -> Path:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if versions:
        return versions[-1].parent
    initdb = shutil.which("initdb")
    assert initdb, "PostgreSQL's server binaries (initdb, postgres) are not installed"
    return Path(initdb).parent


def _server_user() -> dict:
    """PostgreSQL refuses to run as root: as root (CI, containers) run it as `postgres`."""
    if os.geteuid() != 0:
        return {}
    account = pwd.getpwnam("postgres")  # created by Debian's postgresql package, which .ci/run installs
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}


class PrivatePostgres:
    """A cluster made with initdb in a temporary directory, serving on a free port of 127.0.0.1
    with trust authentication. `stop` shuts it down (fast: sessions are cut, as in an outage) and
    `start` brings the same data back on the same port."""

    def __init__(self):
        self.bin = _postgres_bin()
        self.port = free_port()
        self.as_user = _server_user()
        # Not under pytest's tmp_path: that is private to root, and the server may run as postgres.
        self.dir = Path(tempfile.mkdtemp(prefix="smmpanel-pg-"))
        if self.as_user:
            os.chown(self.dir, self.as_user["user"], self.as_user["group"])
        self.data = self.dir / "data"
        self.log_path = self.dir / "postgres.log"
        self.process: subprocess.Popen | None = None
        subprocess.run(
            [self.bin / "initdb", "-D", self.data, "-U", "postgres", "-A", "trust", "--no-sync", "--no-locale",
             "-E", "UTF8"],
            cwd=self.dir, check=True, capture_output=True, **self.as_user,
        )

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.bin / "postgres", "-D", self.data, "-p", str(self.port), "-c", "listen_addresses=127.0.0.1",
             "-c", f"unix_socket_directories={self.dir}", "-c", "fsync=off", "-c", "synchronous_commit=off",
             "-c", "full_page_writes=off"],
            cwd=self.dir, stdout=self.log_path.open("a"), stderr=subprocess.STDOUT, start_new_session=True,
            **self.as_user,
        )
        wait_for(self._answers, timeout=60, interval=0.2, message="private PostgreSQL")

    def _answers(self) -> bool:
        assert self.process and self.process.poll() is None, self.log_path.read_text()
        try:
            with psycopg.connect(self.url(), connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # PostgreSQL's "fast" shutdown
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres()
    try:
        server.start()
        yield server
    finally:
        server.remove()
