"""Operator commands: `python -m marketing_ui.cli COMMAND --help`."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from marketing_ui.core.config import PROJECT_ROOT, ConfigError, get_settings

DEV_WATCHED = ("marketing_ui", "workers")  # what developer mode's hot reload watches


def _alembic_config(url: str | None = None):
    from alembic.config import Config

    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    if url:
        cfg.attributes["url"] = url
    cfg.attributes["configure_logger"] = False
    return cfg


def migrate(url: str | None = None) -> None:
    """Apply every migration (alembic upgrade head)."""
    from alembic import command

    command.upgrade(_alembic_config(url), "head")


def cmd_migrate(_args: argparse.Namespace) -> int:
    migrate()
    print("Database is up to date.")
    return 0


def _new_password(args: argparse.Namespace) -> str:
    """--password for scripts, else asked twice without echo (kept out of shell history)."""
    from marketing_ui.core.auth import AuthError

    if args.password:
        return args.password
    first = getpass.getpass("New password: ")
    if getpass.getpass("Repeat it: ") != first:
        raise AuthError("The two passwords differ; nothing was changed.")
    return first


def _account_command(work) -> int:  # noqa: ANN001 - a function of a Session returning the message
    """Run an account change in one transaction; an AuthError becomes `error: ...`, exit 2."""
    from marketing_ui.core.auth import AuthError
    from marketing_ui.core.db import session_scope

    try:
        with session_scope() as session:
            message = work(session)
    except AuthError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(message)
    return 0


def _sessions(count: int) -> str:
    return f"{count} session{'' if count == 1 else 's'} signed out"


def _name(args: argparse.Namespace) -> str:
    return args.username.strip().lower()


def cmd_create_user(args: argparse.Namespace) -> int:
    from marketing_ui.core.auth import AuthError, create_user

    try:
        password = _new_password(args)
    except AuthError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    def work(session) -> str:  # noqa: ANN001
        create_user(session, args.username, password, args.role)
        return f"Created {args.role} '{_name(args)}'."

    return _account_command(work)


def cmd_set_password(args: argparse.Namespace) -> int:
    from marketing_ui.core.auth import AuthError, set_password

    try:
        password = _new_password(args)
    except AuthError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    def work(session) -> str:  # noqa: ANN001
        ended = set_password(session, args.username, password)
        return f"Password changed for '{_name(args)}'; {_sessions(ended)}."

    return _account_command(work)


def cmd_disable_user(args: argparse.Namespace) -> int:
    from marketing_ui.core.auth import disable_user

    def work(session) -> str:  # noqa: ANN001
        ended = disable_user(session, args.username)
        return f"Disabled '{_name(args)}'; {_sessions(ended)}. Undo with enable-user."

    return _account_command(work)


def cmd_enable_user(args: argparse.Namespace) -> int:
    from marketing_ui.core.auth import enable_user

    def work(session) -> str:  # noqa: ANN001
        if enable_user(session, args.username):
            return f"Enabled '{_name(args)}': it can sign in again."
        return f"'{_name(args)}' is already enabled."

    return _account_command(work)


def cmd_list_users(_args: argparse.Namespace) -> int:
    from marketing_ui.core.auth import list_users
    from marketing_ui.core.db import session_scope

    with session_scope() as session:
        users = list_users(session)
    if not users:
        print("No users yet: run seed-demo or create-user.")
        return 0
    rows = [("username", "role", "status", "last login (UTC)", "sessions")]
    for user in users:
        last = user.last_login_at
        rows.append(
            (
                user.username,
                user.role,
                "active" if user.active else "disabled",
                last.strftime("%Y-%m-%d %H:%M") if last else "never",
                str(user.sessions),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    return 0


def cmd_reencrypt(args: argparse.Namespace) -> int:
    """Re-encrypt every encrypted value under the active key (after adding a new key)."""
    from marketing_ui.core.db import session_scope
    from marketing_ui.core.key_rotation import reencrypt_all

    with session_scope() as session:
        counts = reencrypt_all(session, batch_size=args.batch_size)
    total = sum(counts.values())
    print(f"Re-encrypted {total} values under key '{get_settings().active_key}': {counts}")
    return 0


def cmd_rotate_dev_key(_args: argparse.Namespace) -> int:
    """Development only: add a fresh key to data/secrets.env, make it active, re-encrypt."""
    from marketing_ui.core.key_rotation import add_development_key

    settings = get_settings()
    if settings.is_production:
        print(
            "error: in production add the new key to ENCRYPTION_KEYS, set ACTIVE_KEY_ID, "
            "restart, then run `reencrypt`.",
            file=sys.stderr,
        )
        return 2
    kid = add_development_key(Path(settings.data_dir))
    from marketing_ui.core.config import reset_settings_cache

    reset_settings_cache()
    print(f"Added key '{kid}' and made it active.")
    return cmd_reencrypt(argparse.Namespace(batch_size=1000))


def cmd_seed_demo(args: argparse.Namespace) -> int:
    from marketing_ui.core.db import session_scope
    from marketing_ui.core.demo_data import seed_demo

    with session_scope() as session:
        created = seed_demo(session, admin_password=args.admin_password)
    if created:
        print(created)
    return 0


def cmd_embedded_redis(_args: argparse.Namespace) -> int:
    from marketing_ui.core.redis_client import start_embedded_redis

    print(start_embedded_redis(Path(get_settings().data_dir)))
    return 0


def cmd_limits(args: argparse.Namespace) -> int:
    """Show the sending limits in force; with options, change the stored ones."""
    import dataclasses

    from marketing_ui.core import app_settings
    from marketing_ui.core.db import session_scope

    names = [
        f.name for f in dataclasses.fields(app_settings.SendingLimits) if f.metadata.get("env")
    ]
    form = {name: value for name in names if (value := getattr(args, name)) is not None}
    try:
        with session_scope() as session:
            if form:
                limits = app_settings.update_sending_limits(session, form)
            else:
                limits = app_settings.sending_limits(session)
    except app_settings.SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    fixed = app_settings.fixed_by_environment(app_settings.SendingLimits)
    for name in names:
        source = " (set by the environment)" if name in fixed else ""
        print(
            f"{app_settings.label(app_settings.SendingLimits, name)}: {getattr(limits, name):g}{source}"
        )
    ceilings = limits.describe()
    print(f"Email: {ceilings['email']}\nSMS: {ceilings['sms']}")
    return 0


def cmd_check_config(_args: argparse.Namespace) -> int:
    settings = get_settings()
    print(f"Configuration OK ({settings.app_env}).")
    return 0


def serve_command(port: int, host: str, dev: bool) -> list[str]:
    """The Reflex command line `serve` runs: the production build on one port, or developer mode."""
    reflex = [sys.executable, "-m", "reflex", "run"]
    if dev:
        return [*reflex, "--env", "dev", "--backend-host", host]
    return [
        *reflex, "--env", "prod", "--single-port",
        "--frontend-port", str(port), "--backend-port", str(port), "--backend-host", host,
    ]  # fmt: skip


def serve_env(environ: Mapping[str, str], redis_url: str, dev: bool) -> dict[str, str]:
    """The environment the Reflex server gets: bun on PATH, web processes, what dev reloads."""
    env = dict(environ)
    bun_dir = PROJECT_ROOT / ".tools" / "node_modules" / ".bin"  # scripts/setup.sh puts bun here
    if (bun_dir / "bun").exists():
        env["PATH"] = f"{bun_dir}{os.pathsep}{env.get('PATH', '')}"
        env.setdefault("REFLEX_USE_SYSTEM_BUN", "1")
    # Reflex would start 2×cores+1 web processes (~190 MB each); a small business needs two.
    # Without Redis page state is in memory, so there must be one (Reflex's own fallback).
    if redis_url:
        env.setdefault("GRANIAN_WORKERS", env.get("WEB_WORKERS", "2"))
    if dev:
        # Hot reload watches the code only: never data/, uploads or page state.
        env["REFLEX_HOT_RELOAD_OVERRIDE_PATHS"] = os.pathsep.join(
            str(PROJECT_ROOT / name) for name in DEV_WATCHED
        )
    return env


def cmd_serve(args: argparse.Namespace) -> int:
    """Replace this process with the Reflex server, so signals reach it directly."""
    settings = get_settings()  # refuse a bad configuration before building anything
    env = serve_env(os.environ, settings.redis_url, args.dev)
    os.chdir(PROJECT_ROOT)
    command = serve_command(args.port, args.host, args.dev)
    os.execve(command[0], command, env)
    return 0  # not reached


def _operator():  # noqa: ANN202 - an audit.Actor
    """Who the audit log names for a command run from a shell."""
    from marketing_ui.core.audit import Actor

    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"
    return Actor(None, f"cli:{who}")


def main(argv: list[str] | None = None) -> int:
    from marketing_ui.infra import rq_jobs

    rq_jobs.install()  # commands that start sends or imports queue jobs through RQ
    parser = argparse.ArgumentParser(prog="python -m marketing_ui.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)
    p = sub.add_parser("create-user", help="create a dashboard account")
    p.add_argument("username")
    p.add_argument("--role", choices=["admin", "staff"], default="admin")
    p.add_argument("--password", help="omit to be asked twice (keeps it out of shell history)")
    p.set_defaults(func=cmd_create_user)
    p = sub.add_parser("set-password", help="new password for an account; signs it out everywhere")
    p.add_argument("username")
    p.add_argument("--password", help="omit to be asked twice (keeps it out of shell history)")
    p.set_defaults(func=cmd_set_password)
    p = sub.add_parser("disable-user", help="block an account and sign it out everywhere")
    p.add_argument("username")
    p.set_defaults(func=cmd_disable_user)
    p = sub.add_parser("enable-user", help="let a disabled account sign in again")
    p.add_argument("username")
    p.set_defaults(func=cmd_enable_user)
    sub.add_parser("list-users", help="accounts, roles, status and live sessions").set_defaults(
        func=cmd_list_users
    )
    p = sub.add_parser("reencrypt", help="re-encrypt all PII under the active key")
    p.add_argument("--batch-size", type=int, default=1000)
    p.set_defaults(func=cmd_reencrypt)
    sub.add_parser("rotate-dev-key", help="development: new key + reencrypt").set_defaults(
        func=cmd_rotate_dev_key
    )
    p = sub.add_parser("seed-demo", help="first run: demo data and an admin account")
    p.add_argument("--admin-password", default=None)
    p.set_defaults(func=cmd_seed_demo)
    sub.add_parser("embedded-redis", help="start the bundled Redis; prints its URL").set_defaults(
        func=cmd_embedded_redis
    )
    sub.add_parser("check-config", help="validate configuration").set_defaults(
        func=cmd_check_config
    )
    p = sub.add_parser("limits", help="show or change the sending limits (provider terms)")
    p.add_argument("--email-requests-per-s", dest="email_requests_per_s", type=float)
    p.add_argument("--emails-per-request", dest="emails_per_request", type=int)
    p.add_argument("--sms-segments-per-s", dest="sms_segments_per_s", type=float)
    p.set_defaults(func=cmd_limits)
    p = sub.add_parser("serve", help="start the app (production build on one port)")
    p.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    p.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    p.add_argument("--dev", action="store_true", help="developer mode: hot reload, two ports")
    p.set_defaults(func=cmd_serve)
    args = parser.parse_args(argv)
    from marketing_ui.core import audit

    try:
        with audit.acting_as(_operator()):
            return args.func(args)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
