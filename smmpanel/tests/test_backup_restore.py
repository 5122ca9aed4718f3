"""docs/deploy.md's backup and restore commands, run as written (minus `docker compose exec -T db`)
against a private PostgreSQL cluster set up as the compose `db` service is (superuser and owner
`panel`, database `panel`): what a dump holds comes back, what came after it is gone, and the
ledger still adds up.
"""
from __future__ import annotations

import re
import shlex
import subprocess
from decimal import Decimal

import psycopg
import pytest

from orders.tests.live_processes import ROOT
from smmpanel.tests.stack import manage, private_postgres, production_env, run_compose_service  # noqa: F401

pytestmark = pytest.mark.postgres

IN_DB_CONTAINER = "docker compose exec -T db "


def documented(tool: str) -> list[str]:
    """The argv of the deploy guide's `docker compose exec -T db <tool> …` line, before its redirect."""
    text = (ROOT / "docs" / "deploy.md").read_text()
    lines = re.findall(rf"^{re.escape(IN_DB_CONTAINER)}({tool} .*?)\s*[<>]", text, re.M)
    assert len(lines) == 1, f"docs/deploy.md should show one {tool} line"
    return shlex.split(lines[0])


def balances(url: str) -> dict[str, tuple[Decimal, Decimal]]:
    """username → (balance, sum of its ledger)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT u.username, a.balance, COALESCE(SUM(l.amount), 0) FROM accounts_account a"
            " JOIN auth_user u ON u.id = a.user_id LEFT JOIN accounts_ledgerentry l ON l.account_id = a.id"
            " GROUP BY u.username, a.balance"
        ).fetchall()
    return {name: (balance, ledger) for name, balance, ledger in rows}


def test_the_documented_dump_restores_the_panel(private_postgres, tmp_path):
    with psycopg.connect(private_postgres.url(), autocommit=True) as conn:  # what the postgres image makes of POSTGRES_USER/DB
        conn.execute("CREATE ROLE panel LOGIN SUPERUSER")
        conn.execute("CREATE DATABASE panel OWNER panel")
    url = f"postgres://panel@127.0.0.1:{private_postgres.port}/panel"
    env = production_env("migrate", database_url=url, redis_url=None, var_dir=tmp_path / "var")
    run_compose_service("migrate", env)
    manage(env, "create_reseller", "alice", "--balance", "100")

    dump = tmp_path / "panel.dump"
    server = ["-h", "127.0.0.1", "-p", str(private_postgres.port)]
    with dump.open("wb") as out:
        subprocess.run([private_postgres.bin / "pg_dump", *documented("pg_dump")[1:], *server], stdout=out,
                       check=True, timeout=120)
    listing = subprocess.run([private_postgres.bin / "pg_restore", "--list", dump], capture_output=True, text=True,
                             check=True).stdout
    assert "TABLE public accounts_ledgerentry" in listing

    manage(env, "add_funds", "alice", "50")  # after the dump: lost by the restore
    manage(env, "create_reseller", "bob", "--balance", "5")
    assert set(balances(url)) == {"alice", "bob"}

    with dump.open("rb") as given:
        restored = subprocess.run([private_postgres.bin / "pg_restore", *documented("pg_restore")[1:], *server],
                                  stdin=given, capture_output=True, text=True, timeout=120)
    assert restored.returncode == 0, restored.stderr
    assert balances(url) == {"alice": (Decimal("100"), Decimal("100"))}
    assert "No migrations to apply" in run_compose_service("migrate", env)
