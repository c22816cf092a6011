"""Signup and confirmation throughput over real HTTP, against one synchronous write per request.

Run `python -m bench.signup [--quick]`. It serves `build_api()` with uvicorn (one process) on a
loopback port over a SQLite file database and the outbox providers, and drives it with asyncio
httpx clients, each posting distinct addresses (a crowd scanning one poster):

- signup: POST /join as shipped: parse, per-IP brake (Redis), check, one upsert of the request
  row, commit, the per-address brake (Redis) and the confirmation queued for a worker (RQ);
  one worker then sends the queued confirmations (timed on its own);
- naive: the same parse and check, then one INSERT committed per request and nothing else. This
  is "one synchronous write per request", the floor under any design that stores a signup;
- confirm: POST /join/confirm/{token} for the tokens the signup run emailed (each used once):
  claim, find-or-create the customer, consent with its proof, commit.

The design IS one synchronous write per request (plus queueing the confirmation), so the ratio
says what the brakes and the queue cost on top of that floor; nothing is buffered.
Results go to bench/results/signup.json and the "## Signup" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench.report import machine, replace_section, write_results

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"/join/confirm/([A-Za-z0-9._-]+)")


def make_app():  # noqa: ANN201 - a Starlette app, for `uvicorn --factory`
    """The public endpoints as the Reflex backend mounts them; SIGNUP_BENCH_MODE=naive swaps
    POST /join for the one-write handler."""
    import marketing_ui.api.signup as signup_api
    from marketing_ui.api.app import build_api
    from marketing_ui.core.signup_limits import SignupLimits
    from marketing_ui.infra import rq_jobs

    rq_jobs.install()  # as the app does: confirmations are queued for a worker

    # Every client is 127.0.0.1: the brakes still run (their Redis round trips are measured)
    # but with ceilings no bench reaches.
    signup_api.LIMITS = SignupLimits(per_ip=10**9, messages_per_address=10**9)
    app = build_api()
    if os.environ.get("SIGNUP_BENCH_MODE") == "naive":
        from starlette.routing import Route

        app.router.routes.insert(0, Route("/join", _naive_join, methods=["POST"]))
    return app


async def _naive_join(request):  # noqa: ANN001, ANN202 - a Starlette endpoint
    """Parse and check as POST /join does, then one INSERT committed; no brakes, no message."""
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import PlainTextResponse

    from marketing_ui.api.signup import _signup_form
    from marketing_ui.api.webhooks import read_body
    from marketing_ui.core import signup
    from marketing_ui.core.webhooks import parse_form

    form = _signup_form(parse_form(await read_body(request, 8192)))
    checked = signup.validate_signup(form)
    await run_in_threadpool(_one_write, checked)
    return PlainTextResponse("Check your inbox")


def _one_write(checked) -> None:  # noqa: ANN001 - a core.signup.Signup
    from marketing_ui.core.crypto import associated_data, blind_indexer, cipher
    from marketing_ui.core.db import session_scope
    from marketing_ui.core.models import SignupRequest, new_uid

    uid = new_uid()
    with session_scope() as session:
        session.add(
            SignupRequest(
                uid=uid,
                channel="email",
                value_bidx=blind_indexer().email(checked.email),
                value_enc=cipher().encrypt(
                    checked.email, associated_data("signup_request", "value", uid)
                ),
                first_name=checked.first_name,
                origin=checked.origin,
                wording_version="email-v1",
            )
        )


def _isolated_env(workdir: Path) -> dict[str, str]:
    env = {
        "APP_ENV": "development",
        "DATA_DIR": str(workdir),
        "DATABASE_URL": f"sqlite:///{workdir / 'bench.db'}",
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "QUEUE_PREFIX": f"bench{uuid.uuid4().hex[:8]}",
        "PUBLIC_API_URL": "http://127.0.0.1",
        "EMAIL_PROVIDER": "outbox",
        "SMS_PROVIDER": "outbox",
        "EMAIL_REQUESTS_PER_S": "0",  # the local outbox has no provider limit to keep
    }
    os.environ.update(env)
    return env


def _prepare(env: dict[str, str]) -> None:
    from sqlmodel import SQLModel

    from marketing_ui.core.config import get_settings, reset_settings_cache
    from marketing_ui.core.db import get_engine

    reset_settings_cache()
    get_settings()  # writes the development keys once, before the server reads them
    SQLModel.metadata.create_all(get_engine())
    env.update(_keys_env())


def _keys_env() -> dict[str, str]:
    from marketing_ui.core.config import get_settings

    s = get_settings()
    return {
        "ENCRYPTION_KEYS": s.encryption_keys,
        "ACTIVE_KEY_ID": s.active_key,
        "BLIND_INDEX_KEY": s.blind_index_key,
        "SIGNING_KEY": s.signing_key,
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_server(env: dict[str, str], mode: str) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "bench.signup:make_app",
         "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning"],
        cwd=ROOT,
        env={**os.environ, **env, "SIGNUP_BENCH_MODE": mode},
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("uvicorn did not start")


async def _drive(base: str, requests, seconds: float, clients: int) -> dict[str, float]:  # noqa: ANN001
    """`clients` concurrent loops sending requests(i) for `seconds`; completed and ok counts."""
    counter = iter(range(10**9))
    ok = done = 0
    latencies: list[float] = []
    stop_at = time.monotonic() + seconds

    async def loop(client: httpx.AsyncClient) -> None:
        nonlocal ok, done
        while time.monotonic() < stop_at:
            i = next(counter)
            method, path, data = requests(i)
            if path is None:
                return
            began = time.monotonic()
            response = await client.request(method, path, data=data)
            latencies.append(time.monotonic() - began)
            done += 1
            ok += response.status_code == 200

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        began = time.monotonic()
        await asyncio.gather(*(loop(client) for _ in range(clients)))
        elapsed = time.monotonic() - began
    latencies.sort()
    return {
        "rps": round(done / elapsed, 1),
        "requests": done,
        "ok": ok,
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 1) if latencies else 0.0,
        "p95_ms": round(latencies[int(len(latencies) * 0.95)] * 1000, 1) if latencies else 0.0,
    }


def _signup_request(tag: str):  # noqa: ANN202
    def build(i: int) -> tuple[str, str, dict[str, str]]:
        return (
            "POST",
            "/join",
            {"first_name": "Guest", "email": f"g{i}-{tag}@example.com", "email_opt_in": "1",
             "src": "poster"},
        )  # fmt: skip

    return build


def _confirm_request(tokens: list[str]):  # noqa: ANN202
    def build(i: int) -> tuple[str, str | None, dict[str, str]]:
        path = f"/join/confirm/{tokens[i]}" if i < len(tokens) else None  # each token once
        return "POST", path, {"confirm": "1"}

    return build


def _tokens() -> list[str]:
    from sqlalchemy import select

    from marketing_ui.core.db import get_engine
    from marketing_ui.core.models import OutboxMessage

    with get_engine().connect() as conn:
        html = conn.execute(select(OutboxMessage.html).where(OutboxMessage.channel == "email"))
        return [m.group(1) for (text,) in html if (m := LINK.search(text))]


def _count(model) -> int:  # noqa: ANN001
    from sqlalchemy import func, select

    from marketing_ui.core.db import get_engine

    with get_engine().connect() as conn:
        return conn.execute(select(func.count()).select_from(model.__table__)).scalar_one()


def measure(seconds: float, clients: int) -> dict[str, object]:
    from marketing_ui.core.models import ConsentEvent, Customer, SignupRequest

    workdir = Path(tempfile.mkdtemp(prefix="mk-signup-bench-"))
    env = _isolated_env(workdir)
    _prepare(env)
    runs: dict[str, dict[str, float]] = {}
    for mode in ("naive", "signup"):
        proc, base = _start_server(env, mode)
        try:
            asyncio.run(_drive(base, _signup_request(f"warm{mode}"), 1.0, clients))
            before = _count(SignupRequest)
            runs[mode] = asyncio.run(_drive(base, _signup_request(mode), seconds, clients))
            runs[mode]["rows"] = _count(SignupRequest) - before
            if mode == "signup":
                t = time.perf_counter()
                subprocess.run(  # one worker sends the queued confirmations
                    [sys.executable, "-m", "workers.run", "--burst", "--no-periodic",
                     "--queues", "default"],
                    cwd=ROOT, env={**os.environ, **env}, check=True,
                )  # fmt: skip
                worker_s = time.perf_counter() - t
                tokens = _tokens()
                runs["worker"] = {"sent": len(tokens), "seconds": round(worker_s, 1),
                                  "rate": round(len(tokens) / worker_s, 1)}  # fmt: skip
                customers_before = _count(Customer)

                runs["confirm"] = asyncio.run(
                    _drive(base, _confirm_request(tokens), seconds, clients)
                )
                runs["confirm"]["customers"] = _count(Customer) - customers_before
                runs["confirm"]["consents"] = _count(ConsentEvent)
        finally:
            proc.terminate()
            proc.wait(10)
    return {
        "signup_rps": runs["signup"]["rps"],
        "signup_rps_naive": runs["naive"]["rps"],
        "ratio": round(runs["signup"]["rps"] / runs["naive"]["rps"], 2),
        "confirm_rps": runs["confirm"]["rps"],
        "confirmations_sent_per_s": runs["worker"]["rate"],
        "signup_p95_ms": runs["signup"]["p95_ms"],
        "confirm_p95_ms": runs["confirm"]["p95_ms"],
        "clients": clients,
        "seconds": seconds,
        "runs": runs,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def write_docs(result: dict) -> None:
    runs = result["runs"]
    rows = "\n".join(
        f"| {label} | {runs[key]['rps']:,} | {runs[key]['requests']:,} | {runs[key]['ok']:,} | "
        f"{runs[key]['p50_ms']} | {runs[key]['p95_ms']} |"
        for key, label in (
            ("naive", "one synchronous INSERT per request (the floor)"),
            ("signup", "POST /join as shipped (brakes, upsert, confirmation queued)"),
            ("confirm", "POST /join/confirm/{token} (claim, customer, consent)"),
        )
    )
    replace_section(
        "Signup",
        f"`python -m bench.signup{' --quick' if result['seconds'] < 10 else ''}` on "
        f"{result['date']}, {machine()}: one uvicorn process serving `build_api()` over a SQLite "
        f"file database with the outbox providers, {result['clients']} concurrent asyncio httpx "
        f"clients on the same machine (they share its cores), {result['seconds']} s per run, "
        "every signup a distinct address.\n\n"
        "| run | requests/s | requests | 200 OK | p50 ms | p95 ms |\n"
        "|---|---:|---:|---:|---:|---:|\n"
        f"{rows}\n\n"
        f"Ratio signup / one-write floor: **{result['ratio']}**. The page does one synchronous "
        "write per request (an upsert of the request row, so concurrent signups of one address "
        "stay one row), two Redis brake round trips and queues the confirmation; a worker sends "
        "it, holding the provider's request limit (one worker, from the queue the run left: "
        f"{runs['worker']['sent']:,} confirmations in {runs['worker']['seconds']} s, "
        f"{runs['worker']['rate']:,} per second, through the outbox). Nothing is buffered in "
        "memory: a signup is durable before the page answers. Confirmations: "
        f"{runs['confirm']['customers']:,} customers created with their consent, one per "
        "token used.",
    )


def main() -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="3 s per run instead of 15 s")
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args()
    result = measure(3 if args.quick else 15, args.clients)
    write_results("signup", result)
    write_docs(result)
    print(json.dumps({k: result[k] for k in ("signup_rps", "signup_rps_naive", "ratio",
                                             "confirm_rps")}))  # fmt: skip
    return result


if __name__ == "__main__":
    main()
