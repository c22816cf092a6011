"""Operator commands end to end, in subprocesses like an operator would run them."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError

from marketing_ui.core.config import PROJECT_ROOT


def _cli(env: dict[str, str], *args: str, typed: str = "") -> subprocess.CompletedProcess:
    """Run a command as an operator would; `typed` is what they type at its prompts."""
    return subprocess.run(
        [sys.executable, "-m", "marketing_ui.cli", *args],
        cwd=PROJECT_ROOT,
        env=env,
        input=typed,
        capture_output=True,
        text=True,
        timeout=120,
        start_new_session=True,  # no terminal: the password prompts read what is typed above
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


def _session_count(db: Path, username: str) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "select count(*) from login_session join user on user.id = login_session.user_id"
            " where user.username = ?",
            (username,),
        ).fetchone()[0]


def _sign_in(db: Path, username: str) -> None:
    """A browser session for `username`, straight into the database (as a login would leave it)."""
    with sqlite3.connect(db) as conn:
        (user_id,) = conn.execute("select id from user where username = ?", (username,)).fetchone()
        conn.execute(
            "insert into login_session (token_hash, user_id, created_at, expires_at)"
            " values (?, ?, '2026-01-01 00:00:00', '2999-01-01 00:00:00')",
            (os.urandom(32).hex(), user_id),
        )


def _password_works(db: Path, username: str, password: str) -> bool:
    """Whether `username` could sign in with `password`: active, and the hash matches."""
    with sqlite3.connect(db) as conn:
        password_hash, active = conn.execute(
            "select password_hash, active from user where username = ?", (username,)
        ).fetchone()
    try:
        PasswordHasher().verify(password_hash, password)
    except VerificationError:
        return False
    return bool(active)


def test_the_first_run_hint_names_a_command_that_works(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    db = tmp_path / "cli.db"
    assert _cli(cli_env, "migrate").returncode == 0
    seeded = _cli(cli_env, "seed-demo", "--admin-password", "first-run-pass")
    hint = seeded.stdout.strip().splitlines()[-1]
    assert hint == "Change them with: python -m marketing_ui.cli set-password NAME"
    assert "set-password NAME" in (tmp_path / "first-login.txt").read_text()
    _sign_in(tmp_path / "cli.db", "admin")
    changed = _cli(cli_env, "set-password", "admin", typed="new-admin-pass\nnew-admin-pass\n")
    assert changed.returncode == 0, changed.stderr
    assert "Password changed for 'admin'; 1 session signed out." in changed.stdout
    assert "new-admin-pass" not in changed.stdout + changed.stderr
    assert _session_count(tmp_path / "cli.db", "admin") == 0
    assert _password_works(db, "admin", "new-admin-pass")
    assert not _password_works(db, "admin", "first-run-pass")


def test_set_password_for_scripts_and_its_refusals(cli_env: dict[str, str], tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    assert _cli(cli_env, "migrate").returncode == 0
    assert (
        _cli(
            cli_env, "create-user", "clerk", "--role", "staff", "--password", "long-enough-1"
        ).returncode
        == 0
    )
    ok = _cli(cli_env, "set-password", "Clerk", "--password", "long-enough-2")
    assert (
        ok.returncode == 0 and "Password changed for 'clerk'; 0 sessions signed out." in ok.stdout
    )
    assert _password_works(db, "clerk", "long-enough-2")
    differ = _cli(cli_env, "set-password", "clerk", typed="long-enough-3\nlong-enough-4\n")
    assert differ.returncode == 2 and "two passwords differ" in differ.stderr
    assert _password_works(db, "clerk", "long-enough-2")  # nothing changed
    short = _cli(cli_env, "set-password", "clerk", "--password", "short")
    assert short.returncode == 2 and "at least 8" in short.stderr
    ghost = _cli(cli_env, "set-password", "ghost", "--password", "long-enough-5")
    assert ghost.returncode == 2 and "No user 'ghost'" in ghost.stderr


def test_disable_enable_and_list_users(cli_env: dict[str, str], tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    assert _cli(cli_env, "migrate").returncode == 0
    assert _cli(cli_env, "list-users").stdout.startswith("No users yet")
    typed = "long-enough-1\nlong-enough-1\n"
    assert _cli(cli_env, "create-user", "boss", typed=typed).returncode == 0
    assert _cli(cli_env, "create-user", "clerk", "--role", "staff", typed=typed).returncode == 0
    _sign_in(db, "clerk")
    _sign_in(db, "clerk")

    listed = _cli(cli_env, "list-users").stdout.splitlines()
    assert listed[0].split() == ["username", "role", "status", "last", "login", "(UTC)", "sessions"]
    assert listed[1].split() == ["boss", "admin", "active", "never", "0"]
    assert listed[2].split() == ["clerk", "staff", "active", "never", "2"]

    disabled = _cli(cli_env, "disable-user", "clerk")
    assert disabled.returncode == 0
    assert "Disabled 'clerk'; 2 sessions signed out." in disabled.stdout
    assert _session_count(db, "clerk") == 0
    assert not _password_works(db, "clerk", "long-enough-1")  # inactive
    assert _cli(cli_env, "list-users").stdout.splitlines()[2].split()[2] == "disabled"

    enabled = _cli(cli_env, "enable-user", "clerk")
    assert enabled.returncode == 0 and "Enabled 'clerk'" in enabled.stdout
    assert "already enabled" in _cli(cli_env, "enable-user", "clerk").stdout
    assert _password_works(db, "clerk", "long-enough-1")

    last_admin = _cli(cli_env, "disable-user", "boss")
    assert last_admin.returncode == 2 and "last active admin" in last_admin.stderr
    for command in ("disable-user", "enable-user"):
        ghost = _cli(cli_env, command, "ghost")
        assert ghost.returncode == 2 and "No user 'ghost'" in ghost.stderr


def test_serve_runs_the_production_build_on_one_port_and_dev_mode_watches_code_only() -> None:
    from marketing_ui.cli import DEV_WATCHED, serve_command, serve_env
    from marketing_ui.core.config import get_settings

    prod = serve_command(3000, "127.0.0.1", dev=False)
    assert prod[prod.index("--env") + 1] == "prod" and "--single-port" in prod
    assert prod[prod.index("--frontend-port") + 1] == prod[prod.index("--backend-port") + 1]
    assert (
        serve_command(3000, "127.0.0.1", dev=True)[
            serve_command(3000, "h", True).index("--env") + 1
        ]
        == "dev"
    )

    env = serve_env({"PATH": "/usr/bin"}, "redis://127.0.0.1:6379/0", dev=False)
    assert env["GRANIAN_WORKERS"] == "2" and "REFLEX_HOT_RELOAD_OVERRIDE_PATHS" not in env
    assert "GRANIAN_WORKERS" not in serve_env({}, "", dev=False)  # page state in memory: one

    watched = serve_env({}, "", dev=True)["REFLEX_HOT_RELOAD_OVERRIDE_PATHS"].split(os.pathsep)
    assert watched == [str(PROJECT_ROOT / name) for name in DEV_WATCHED]
    data_dir = Path(get_settings().data_dir).resolve()
    for path in map(Path, watched):  # data, uploads and the database live where no watcher looks
        assert data_dir != path and path not in data_dir.parents


def test_commands_are_audited_under_the_operators_name(cli_env: dict[str, str]) -> None:
    assert _cli(cli_env, "migrate").returncode == 0
    made = _cli(cli_env, "create-user", "second", "--password", "long-enough-pw")
    assert made.returncode == 0, made.stderr
    with sqlite3.connect(Path(cli_env["DATA_DIR"]) / "cli.db") as db:
        rows = db.execute("select actor, action, object_type from audit_log").fetchall()
    assert len(rows) == 1
    actor, action, object_type = rows[0]
    assert actor.startswith("cli:") and (action, object_type) == ("user.create", "user")
