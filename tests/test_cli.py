"""Operator commands end to end, in subprocesses like an operator would run them."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from marketing_ui.core.config import PROJECT_ROOT


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "marketing_ui.cli", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"ENCRYPTION_KEYS", "ACTIVE_KEY_ID"}}
    env.update(DATA_DIR=str(tmp_path), DATABASE_URL=f"sqlite:///{tmp_path / 'cli.db'}")
    return env


def _key_ids(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "select email_enc from customer union all select phone_enc from customer"
        ).fetchall()
    return {value.split(":", 1)[0] for (value,) in rows if value}


def test_first_run_then_key_rotation(cli_env: dict[str, str], tmp_path: Path) -> None:
    assert _cli(cli_env, "migrate").returncode == 0
    seeded = _cli(cli_env, "seed-demo", "--admin-password", "first-run-pass")
    assert seeded.returncode == 0 and "admin / first-run-pass" in seeded.stdout
    assert _cli(cli_env, "seed-demo").stdout == ""  # second run seeds nothing
    assert _key_ids(tmp_path / "cli.db") == {"k1"}

    rotated = _cli(cli_env, "rotate-dev-key")
    assert rotated.returncode == 0, rotated.stderr
    assert "Added key 'k2'" in rotated.stdout
    assert _key_ids(tmp_path / "cli.db") == {"k2"}

    # Every value still decrypts under the rotated keyring (k1 kept for old backups).
    check = subprocess.run(
        [
            sys.executable,
            "-c",
            "from marketing_ui.core.db import session_scope\n"
            "from marketing_ui.core.customers import list_customers, count_customers\n"
            "with session_scope() as s:\n"
            "    page = list_customers(s, limit=100)\n"
            "    assert all(r.email.endswith('@example.com') for r in page.rows)\n"
            "    print(len(page.rows))\n",
        ],
        cwd=PROJECT_ROOT,
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0, check.stderr
    assert int(check.stdout) == 40


def test_create_user_rejects_bad_input(cli_env: dict[str, str]) -> None:
    assert _cli(cli_env, "migrate").returncode == 0
    ok = _cli(cli_env, "create-user", "clerk", "--role", "staff", "--password", "long-enough-1")
    assert ok.returncode == 0 and "Created staff 'clerk'" in ok.stdout
    again = _cli(cli_env, "create-user", "clerk", "--password", "long-enough-1")
    assert again.returncode == 2 and "already exists" in again.stderr
    short = _cli(cli_env, "create-user", "other", "--password", "short")
    assert short.returncode == 2 and "at least 8" in short.stderr
    assert "short" not in short.stdout


def test_production_refuses_to_start_without_secrets(cli_env: dict[str, str]) -> None:
    env = {**cli_env, "APP_ENV": "production", "DATABASE_URL": "", "REDIS_URL": ""}
    result = _cli(env, "check-config")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "ENCRYPTION_KEYS" in lines[0] and "SIGNING_KEY" in lines[0]


def test_raw_database_holds_no_plaintext_contact(cli_env: dict[str, str], tmp_path: Path) -> None:
    """Seed, then read the raw SQLite file bytes: no email or phone appears anywhere."""
    assert _cli(cli_env, "migrate").returncode == 0
    assert _cli(cli_env, "seed-demo", "--admin-password", "first-run-pass").returncode == 0
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("cli.db*"))
    # Demo customers are first.last{n}@example.com (the business's own sender address is not PII).
    assert re.search(rb"[a-z]+\.[a-z]+\d+@example\.com", raw) is None
    assert b"2025550" not in raw and b"555-01" not in raw
    assert b"Ava" in raw  # names are stored (sanity check that we read the right file)
