"""Operator commands: `python -m marketing_ui.cli COMMAND --help`."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
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


def cmd_create_user(args: argparse.Namespace) -> int:
    from marketing_ui.core.auth import AuthError, create_user
    from marketing_ui.core.db import session_scope

    password = args.password or getpass.getpass("Password: ")
    try:
        with session_scope() as session:
            create_user(session, args.username, password, args.role)
    except AuthError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"Created {args.role} '{args.username.strip().lower()}'.")
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


def cmd_serve(args: argparse.Namespace) -> int:
    """Replace this process with the Reflex server, so signals reach it directly."""
    settings = get_settings()  # refuse a bad configuration before building anything
    env = dict(os.environ)
    bun_dir = PROJECT_ROOT / ".tools" / "node_modules" / ".bin"  # scripts/setup.sh puts bun here
    if (bun_dir / "bun").exists():
        env["PATH"] = f"{bun_dir}{os.pathsep}{env.get('PATH', '')}"
        env.setdefault("REFLEX_USE_SYSTEM_BUN", "1")
    # Reflex would start 2×cores+1 web processes (~190 MB each); a small business needs two.
    # Without Redis page state is in memory, so there must be one (Reflex's own fallback).
    if settings.redis_url:
        env.setdefault("GRANIAN_WORKERS", os.environ.get("WEB_WORKERS", "2"))
    if args.dev:
        # Hot reload watches the code only: never data/, uploads or page state.
        env["REFLEX_HOT_RELOAD_OVERRIDE_PATHS"] = os.pathsep.join(
            str(PROJECT_ROOT / name) for name in DEV_WATCHED
        )
    os.chdir(PROJECT_ROOT)
    command = serve_command(args.port, args.host, args.dev)
    os.execve(command[0], command, env)
    return 0  # not reached


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m marketing_ui.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)
    p = sub.add_parser("create-user", help="create a dashboard account")
    p.add_argument("username")
    p.add_argument("--role", choices=["admin", "staff"], default="admin")
    p.add_argument("--password", help="omit to be asked (keeps it out of shell history)")
    p.set_defaults(func=cmd_create_user)
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
    p = sub.add_parser("serve", help="start the app (production build on one port)")
    p.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    p.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    p.add_argument("--dev", action="store_true", help="developer mode: hot reload, two ports")
    p.set_defaults(func=cmd_serve)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
