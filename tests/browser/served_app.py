"""The app in a copy of the project, started the way the README starts it, for long stories.

`cli serve` (the production build on one port, APP_ENV=production) with its own data folder,
SQLite database, queue prefix, keys and RQ worker, so what it does never meets the rest of the
test run's data. Used by the long session and by the screenshot tool.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ADMIN = ("owner", "owner-pass-1234")
COPY_IGNORE = shutil.ignore_patterns(
    ".git", ".web", ".venv", ".tools", "data", "node_modules", "__pycache__", ".pytest_cache",
    ".ruff_cache", "docs", "bench", ".states", "uploaded_files",
)  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _key() -> str:
    import base64

    return base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


class App:
    """The app in a copy of the project, started the README's way, with one worker."""

    def __init__(self, workdir: Path, demo: bool = False) -> None:
        self.demo = demo  # the first-run demo data, with its "admin" account
        self.admin = ("admin", ADMIN[1]) if demo else ADMIN
        self.tree = workdir / "project"
        self.data = workdir / "data"
        self.port = _free_port()
        self.url = f"http://localhost:{self.port}"
        shutil.copytree(ROOT, self.tree, ignore=COPY_IGNORE)
        for link in (".venv", ".tools"):
            if (ROOT / link).exists():
                (self.tree / link).symlink_to((ROOT / link).resolve())
        self.env = {
            **os.environ,
            "APP_ENV": "production",
            "DATA_DIR": str(self.data),
            "DATABASE_URL": f"sqlite:///{self.data / 'app.db'}",
            "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
            "QUEUE_PREFIX": f"long{uuid.uuid4().hex[:8]}",
            "ENCRYPTION_KEYS": f"k1:{_key()}",
            "BLIND_INDEX_KEY": _key(),
            "SIGNING_KEY": _key(),
            "PUBLIC_BASE_URL": self.url,
            "ALLOW_INSECURE_HTTP": "1",
            "PYTHONPATH": str(self.tree),
        }
        self.server: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None
        self.log = workdir / "app.log"

    def _cli(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "marketing_ui.cli", *args],
            cwd=self.tree,
            env=self.env,
            check=True,
            stdout=subprocess.DEVNULL,
            input=None,
        )

    def start(self) -> None:
        self.data.mkdir(parents=True)
        self._cli("migrate")
        if self.demo:
            self._cli("seed-demo", "--admin-password", self.admin[1])
        else:
            self._cli("create-user", ADMIN[0], "--role", "admin", "--password", ADMIN[1])
        with open(self.log, "wb") as log:
            self.worker = subprocess.Popen(
                [sys.executable, "-m", "workers.run"],
                cwd=self.tree,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            self.server = subprocess.Popen(
                [sys.executable, "-m", "marketing_ui.cli", "serve", "--port", str(self.port)],
                cwd=self.tree,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 400
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                raise RuntimeError(f"the app exited:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/login", timeout=2).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"the app did not start:\n{self.log.read_text()[-3000:]}")

    def restarts(self) -> int:
        """How many times the backend came up after the first time (prod mode: never)."""
        text = self.log.read_text(errors="replace")
        return max(0, text.count("App running at") - 1)

    def coupon_code(self, campaign_id: int) -> str | None:
        """A short code of a coupon this campaign issued (what the customer reads out)."""
        return self._coupon_secret(campaign_id, "short_code")

    def coupon_token(self, campaign_id: int) -> str | None:
        """The token of a coupon this campaign issued (what its QR code and link carry)."""
        return self._coupon_secret(campaign_id, "token")

    def preferences_path(self) -> str | None:
        """The preference page of the first customer with an email (the link every email has)."""
        script = (
            "from marketing_ui.core.db import session_scope\n"
            "from marketing_ui.core.models import Customer\n"
            "from marketing_ui.core.tracking import unsubscribe_token\n"
            "from sqlmodel import select\n"
            "with session_scope() as s:\n"
            "    uid = s.execute(select(Customer.uid).where(Customer.email_bidx.is_not(None))"
            ".order_by(Customer.id)).scalars().first()\n"
            "    print(f'/u/{unsubscribe_token(uid, None)}' if uid else '')\n"
        )
        return self._python(script)

    def _coupon_secret(self, campaign_id: int, field: str) -> str | None:
        script = (
            "from marketing_ui.core.db import session_scope\n"
            "from marketing_ui.core.models import Delivery\n"
            "from marketing_ui.core.coupons import secrets_for_deliveries\n"
            "from sqlmodel import select\n"
            "with session_scope() as s:\n"
            f"    ids = list(s.execute(select(Delivery.id).where(Delivery.campaign_id == {campaign_id})).scalars())\n"
            "    found = secrets_for_deliveries(s, ids)\n"
            f"    print(next(iter(found.values())).{field} if found else '')\n"
        )
        return self._python(script)

    def _python(self, script: str) -> str | None:
        """What `script` prints, run in the app's own environment (its database and keys)."""
        out = subprocess.run(
            [sys.executable, "-c", script],
            cwd=self.tree,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip() or None

    def stop(self) -> None:
        for proc in (self.server, self.worker):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in (self.server, self.worker):
            if proc is not None:
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
