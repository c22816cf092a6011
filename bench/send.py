"""Send pipeline benchmarks: end-to-end throughput vs the naive design, limiter accuracy, and
exactly-once delivery while workers are SIGKILLed and the provider fails.

    python -m bench.send [--quick]

Writes bench/results/send.json and the "## Send pipeline" section of docs/benchmarks.md.
Everything runs against a SQLite file under bench/out/, the local Redis (keys under a
unique prefix) and a loopback fake Resend that counts what each recipient received.
`run_throughput` is importable (bench/qr.py compares campaigns with and without QR codes).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis
from rq import Worker
from sqlalchemy import update
from sqlmodel import Session, SQLModel

from bench.limiter_accuracy import measure_limiter
from bench.report import machine, write_results
from bench.seed_customers import seed
from marketing_ui.core import models  # noqa: F401 - registers the tables
from marketing_ui.core.app_settings import SendingLimits, save_sending_limits
from marketing_ui.core.audience import Audience
from marketing_ui.core.config import load_settings, read_secrets_file, reset_settings_cache
from marketing_ui.core.db import get_engine, reset_engine_cache, session_scope
from marketing_ui.core.jobs import DEFAULT, EMAIL
from marketing_ui.core.messages import clear_compiled_cache
from marketing_ui.core.models import Campaign, Customer, Delivery
from marketing_ui.core.redis_client import reset_redis_cache
from marketing_ui.core.rendering import list_templates
from marketing_ui.infra.rq_jobs import get_queue
from tests.fakes.resend_server import FakeResend

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
RESULTS = ROOT / "bench" / "results" / "send.json"
DOCS = ROOT / "docs" / "benchmarks.md"
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


class CountingResend(FakeResend):
    """The fake Resend keeping only recipient and key per message (100,000 bodies would be GBs)."""

    def _record(self, item: dict[str, Any], key: str | None) -> str:
        email_id = str(uuid.uuid4())
        to = item["to"] if isinstance(item["to"], list) else [item["to"]]
        self._messages.append({"id": email_id, "to": to, "idempotency_key": key})
        return email_id


# Environment -----------------------------------------------------------------------------------


def _reset_caches() -> None:
    reset_settings_cache()
    reset_engine_cache()
    reset_redis_cache()
    clear_compiled_cache()


@contextmanager
def _environment(
    fake: FakeResend,
    lease_s: float | None = None,
    app_env: str = "development",
    timeout_s: float | None = None,
) -> Iterator[dict[str, str]]:
    """A fresh SQLite file and queue prefix; env vars that worker subprocesses inherit.

    `app_env="production"` sends as production does: images (the QR code included) are
    linked under PUBLIC_BASE_URL instead of inlined, with the keys passed explicitly.
    """
    OUT.mkdir(parents=True, exist_ok=True)
    run = uuid.uuid4().hex[:8]
    db = OUT / f"send_{run}.db"
    env = {
        "APP_ENV": app_env,
        "DATA_DIR": str(OUT / "data"),
        "REDIS_URL": REDIS_URL,
        "DATABASE_URL": f"sqlite:///{db}",
        "QUEUE_PREFIX": f"bench{run}",
        "EMAIL_PROVIDER": "resend",
        "RESEND_BASE_URL": fake.url,
        "RESEND_API_KEY": fake.api_key,
    }
    if lease_s is not None:
        env["SEND_LEASE_S"] = str(lease_s)
    if timeout_s is not None:
        env["PROVIDER_TIMEOUT_S"] = str(timeout_s)
    if app_env == "production":
        load_settings(app_env="development", data_dir=OUT / "data")  # makes the keys once
        secrets = read_secrets_file(OUT / "data")
        env.update(
            PUBLIC_BASE_URL="https://shop.example-bistro.com",
            ENCRYPTION_KEYS=secrets["ENCRYPTION_KEYS"],
            BLIND_INDEX_KEY=secrets["BLIND_INDEX_KEY"],
            SIGNING_KEY=secrets["SIGNING_KEY"],
        )
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    _reset_caches()
    SQLModel.metadata.create_all(get_engine())
    try:
        yield env
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        for pattern in (f"{env['QUEUE_PREFIX']}:*", f"rq:*{env['QUEUE_PREFIX']}:*"):
            for key in client.scan_iter(match=pattern, count=1000):
                client.delete(key)
        client.close()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        _reset_caches()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)


def _prepare(recipients: int, with_qr: bool, limits: SendingLimits | None = None) -> int:
    """Seed customers (all with email consent) and a tracked monday_special campaign."""
    engine = get_engine()
    seed(engine, recipients)
    template = next(t for t in list_templates() if t.name == "monday_special")
    with Session(engine) as session:
        session.execute(update(Customer).values(email_consent=True))
        save_sending_limits(session, limits or SendingLimits(email_requests_per_s=0.0))
        campaign = Campaign(
            name="Bench Monday special",
            channel="email",
            subject=template.subject,
            preheader=template.preheader,
            mjml_body=template.mjml,
            has_qr_code=with_qr,
            offer_text="2-for-1 fresh pasta, all day Monday",
            offer_expires_at=datetime.now(UTC) + timedelta(days=14),
            track_opens_clicks=True,
            audience_json=Audience().to_json(),
        )
        session.add(campaign)
        session.commit()
        assert campaign.id is not None
        return campaign.id


def _start_worker(env: dict[str, str], fork: bool = False, queues: str = EMAIL) -> subprocess.Popen:
    args = [sys.executable, "-m", "workers.run", "--queues", queues]
    if fork:
        args += ["--fork", "--no-periodic"]  # the naive design has no sweeper either
    return subprocess.Popen(
        args,
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # SIGKILL the group: the worker and its RQ scheduler child
    )


def _wait_for_workers(count: int, queue_kind: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    queue = get_queue(queue_kind)
    while len(Worker.all(queue=queue)) < count:
        if time.monotonic() > deadline:
            raise RuntimeError("workers did not start")
        time.sleep(0.1)


def _stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _wait_sent(campaign_id: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        with Session(get_engine()) as session:
            status = session.get(Campaign, campaign_id).status  # type: ignore[union-attr]
        if status not in ("sending", "draft"):
            if status != "sent":
                raise RuntimeError(f"campaign ended {status}")
            return
        if time.monotonic() > deadline:
            raise RuntimeError("send did not finish in time")
        time.sleep(0.05)


def _exactly_once(fake: FakeResend, recipients: int) -> tuple[int, int]:
    """(lost, duplicated) by the fake provider's own count."""
    counts = fake.count_by_recipient()
    return recipients - len(counts), sum(n - 1 for n in counts.values() if n > 1)


# Throughput --------------------------------------------------------------------------------------


def run_throughput(
    recipients: int,
    workers: int = 2,
    with_qr: bool = False,
    app_env: str = "development",
    phases: dict[str, float] | None = None,
) -> float:
    """Messages per second, freeze + queue + render + deliver + record, with warm workers.

    `phases`, when given, receives `start_s` (start_send: the freeze, coupons included, and
    queueing; workers wait meanwhile) and `send_s` (from then until the campaign is sent).
    """
    with CountingResend() as fake, _environment(fake, app_env=app_env) as env:
        campaign_id = _prepare(recipients, with_qr)
        procs = [_start_worker(env) for _ in range(workers)]
        try:
            _wait_for_workers(workers, EMAIL)
            started = time.perf_counter()
            from marketing_ui.core.sending import start_send

            with session_scope() as session:
                start_send(session, campaign_id)
            started_s = time.perf_counter() - started
            _wait_sent(campaign_id, timeout_s=max(600, recipients / 50))
            elapsed = time.perf_counter() - started
            if phases is not None:
                phases.update(start_s=started_s, send_s=elapsed - started_s)
        finally:
            _stop(procs)
        lost, duplicated = _exactly_once(fake, recipients)
        if lost or duplicated:
            raise RuntimeError(f"throughput run lost {lost} and duplicated {duplicated}")
    return recipients / elapsed


def run_provider_limit(recipients: int, workers: int = 2, limit: int = 5) -> dict[str, Any]:
    """Against a provider that enforces `limit` requests in any sliding second (429 above it),
    with the limits set in its terms (`limit` requests × 100 emails): how close to that
    ceiling the send runs, and whether the provider ever saw one request too many."""
    from marketing_ui.core.sending import start_send

    with CountingResend() as fake, _environment(fake) as env:
        fake.requests_per_s = limit
        limits = SendingLimits(email_requests_per_s=limit, emails_per_request=100)
        campaign_id = _prepare(recipients, with_qr=False, limits=limits)
        procs = [_start_worker(env) for _ in range(workers)]
        try:
            _wait_for_workers(workers, EMAIL)
            with session_scope() as session:
                start_send(session, campaign_id)
            _wait_sent(campaign_id, timeout_s=max(600, recipients / limit / 100 * 3))
        finally:
            _stop(procs)
        lost, duplicated = _exactly_once(fake, recipients)
        arrivals = fake.arrivals()
    requests = len(arrivals)
    span = arrivals[-1] - arrivals[0]
    # The first second's `limit` requests are free capacity: steady state is the rest.
    achieved_requests = (requests - limit) / span
    return {
        "provider_recipients": recipients,
        "provider_limit_requests_s": limit,
        "provider_ceiling_msg_s": limit * 100,
        "provider_achieved_msg_s": round(achieved_requests * 100, 1),
        "provider_efficiency": round(achieved_requests / limit, 3),
        "provider_429s": fake.rate_limited,
        "sliding_window_max_requests": fake.max_requests_in_window(1.0),
        "provider_requests": requests,
        "provider_seconds": round(span, 1),
        "provider_lost": lost,
        "provider_duplicated": duplicated,
    }


def run_naive(recipients: int, workers: int = 2) -> float:
    """The same campaign, one RQ job per message on forking workers."""
    from marketing_ui.core.sending import finish_if_done, start_send

    with CountingResend() as fake, _environment(fake) as env:
        campaign_id = _prepare(recipients, with_qr=False)
        procs = [_start_worker(env, fork=True, queues=DEFAULT) for _ in range(workers)]
        try:
            _wait_for_workers(workers, DEFAULT)
            started = time.perf_counter()
            with session_scope() as session:
                start_send(session, campaign_id)
                get_queue(EMAIL).empty()  # replace the batch jobs by one job per message
                ids = list(
                    session.execute(
                        Delivery.__table__.select()
                        .with_only_columns(Delivery.id)
                        .where(Delivery.campaign_id == campaign_id)
                    ).scalars()
                )
            queue = get_queue(DEFAULT)
            jobs = [
                queue.prepare_data(
                    "bench.naive_send.naive_send_one", args=(campaign_id, i), result_ttl=0
                )
                for i in ids
            ]
            queue.enqueue_many(jobs)
            deadline = time.monotonic() + 1800
            while True:
                with session_scope() as session:
                    if finish_if_done(session, campaign_id):
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError("naive run did not finish")
                time.sleep(0.1)
            elapsed = time.perf_counter() - started
        finally:
            _stop(procs)
    return recipients / elapsed


# Faults ------------------------------------------------------------------------------------------


def run_faults(recipients: int, workers: int = 2, kill_every_s: float = 3.0) -> dict[str, Any]:
    """The throughput run while a worker is SIGKILLed every few seconds (and replaced) and the
    provider answers 5% 500s and 5% 429s; the fake counts what every recipient received."""
    from marketing_ui.core.sending import start_send

    with CountingResend(seed=11) as fake, _environment(fake, lease_s=8) as env:
        campaign_id = _prepare(recipients, with_qr=False)
        fake.error_rate_500, fake.error_rate_429 = 0.05, 0.05
        procs = [_start_worker(env) for _ in range(workers)]
        kills = 0
        rng = random.Random(3)
        try:
            _wait_for_workers(workers, EMAIL)
            started = time.perf_counter()
            with session_scope() as session:
                start_send(session, campaign_id)
            next_kill = time.monotonic() + kill_every_s
            deadline = time.monotonic() + 1800
            while True:
                with Session(get_engine()) as session:
                    status = session.get(Campaign, campaign_id).status  # type: ignore[union-attr]
                if status != "sending":
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError("fault run did not finish")
                if time.monotonic() >= next_kill:
                    victim = rng.randrange(len(procs))
                    os.killpg(procs[victim].pid, signal.SIGKILL)
                    procs[victim].wait()
                    procs[victim] = _start_worker(env)
                    kills += 1
                    next_kill = time.monotonic() + kill_every_s
                time.sleep(0.05)
            elapsed = time.perf_counter() - started
        finally:
            _stop(procs)
        lost, duplicated = _exactly_once(fake, recipients)
        return {
            "fault_recipients": recipients,
            "fault_status": status,
            "fault_kills": kills,
            "fault_provider_requests": fake.requests,
            "fault_lost": lost,
            "fault_duplicated": duplicated,
            "fault_seconds": round(elapsed, 1),
        }


def _wrongly_failed(fake: FakeResend, campaign_id: int) -> int:
    """Deliveries marked failed although the provider accepted their message."""
    from sqlalchemy import select

    from marketing_ui.core.crypto import blind_indexer

    bidx = blind_indexer()
    received = {bidx.email(to) for to in fake.count_by_recipient()}
    with Session(get_engine()) as session:
        failed = session.execute(
            select(Customer.email_bidx)
            .join(Delivery, Delivery.customer_id == Customer.id)
            .where(Delivery.campaign_id == campaign_id, Delivery.status == "failed")
        ).scalars()
        return sum(1 for b in failed if b in received)


def run_slow_provider(
    recipients: int, workers: int = 2, slow_rate: float = 0.3, timeout_s: float = 1.0
) -> dict[str, Any]:
    """A provider answering `slow_rate` of its requests after the client's timeout (having
    accepted them) and the rest at once: nothing lost, sent twice, or failed although sent."""
    from marketing_ui.core.sending import start_send

    with CountingResend(seed=5) as fake, _environment(fake, timeout_s=timeout_s) as env:
        fake.slow_answer_rate, fake.slow_answer_s = slow_rate, timeout_s * 1.5
        campaign_id = _prepare(recipients, with_qr=False)
        procs = [_start_worker(env) for _ in range(workers)]
        try:
            _wait_for_workers(workers, EMAIL)
            started = time.perf_counter()
            with session_scope() as session:
                start_send(session, campaign_id)
            _wait_sent(campaign_id, timeout_s=600)
            elapsed = time.perf_counter() - started
        finally:
            _stop(procs)
        lost, duplicated = _exactly_once(fake, recipients)
        return {
            "slow_recipients": recipients,
            "slow_answer_share": slow_rate,
            "slow_timeouts": fake.slow_answers,
            "slow_lost": lost,
            "slow_duplicated": duplicated,
            "slow_wrongly_failed": _wrongly_failed(fake, campaign_id),
            "slow_seconds": round(elapsed, 1),
        }


def run_crash(recipients: int, workers: int = 2, kills: int = 3) -> dict[str, Any]:
    """SIGKILL a worker `kills` times mid-send (each replaced), the lease left at its 120 s:
    the heartbeat takeover is what brings a dead worker's batch back, without duplicates."""
    from sqlalchemy import select

    from marketing_ui.core.sending import start_send

    with CountingResend(seed=13) as fake, _environment(fake) as env:
        fake.delay_s = 0.3  # every batch call takes a while: each kill lands inside one
        limits = SendingLimits(email_requests_per_s=5, emails_per_request=100)
        campaign_id = _prepare(recipients, with_qr=False, limits=limits)
        procs = [_start_worker(env) for _ in range(workers)]
        done = killed_at = took_over_s = None
        try:
            _wait_for_workers(workers, EMAIL)
            with session_scope() as session:
                start_send(session, campaign_id)
            for kill in range(kills):
                victim = kill % len(procs)
                pid = procs[victim].pid
                deadline = time.monotonic() + 60
                while True:  # kill only while it holds a batch
                    with Session(get_engine()) as session:
                        holders = session.execute(
                            select(Delivery.lease_holder).where(Delivery.status == "inflight")
                        ).scalars()
                        if any(h and f":{pid}:" in h for h in holders):
                            break
                    if time.monotonic() > deadline:
                        raise RuntimeError("no worker ever held a batch")
                    time.sleep(0.02)
                os.killpg(pid, signal.SIGKILL)
                procs[victim].wait()
                killed_at = time.monotonic()
                procs[victim] = _start_worker(env)
            while took_over_s is None:  # the last victim's deliveries taken back
                with Session(get_engine()) as session:
                    held = session.execute(
                        select(Delivery.id)
                        .where(
                            Delivery.status == "inflight",
                            Delivery.lease_holder.like(f"%:{pid}:%"),
                        )
                        .limit(1)
                    ).first()
                if held is None:
                    took_over_s = time.monotonic() - killed_at
                time.sleep(0.05)
            _wait_sent(campaign_id, timeout_s=600)
            done = time.monotonic() - killed_at
        finally:
            _stop(procs)
        lost, duplicated = _exactly_once(fake, recipients)
        return {
            "crash_recipients": recipients,
            "crash_kills": kills,
            "crash_lost": lost,
            "crash_duplicated": duplicated,
            "crash_takeover_s": round(took_over_s, 1),
            "crash_seconds_after_last_kill": round(done, 1),
        }


# Report ------------------------------------------------------------------------------------------


def write_docs(result: dict[str, Any]) -> None:
    """Replace only the "## Send pipeline" section of docs/benchmarks.md."""
    section = (
        "## Send pipeline\n\n"
        f"`python -m bench.send{' --quick' if result['quick'] else ''}` on {result['date']}, "
        f"{result['machine']}; SQLite file, local Redis, loopback fake Resend in the benchmark "
        "process (no rate limit unless stated). Raw figures: `bench/results/send.json`. Design: "
        "[send_pipeline.md](send_pipeline.md).\n\n"
        "| Measure | Result |\n|---|---|\n"
        f"| Throughput, {result['recipients']:,} recipients, {result['workers']} worker processes, "
        "freeze + queue + render (monday_special, tracked) + deliver + record [>= 2,000/s] "
        f"| **{result['throughput_msg_s']:,.0f} messages/s** |\n"
        f"| Naive design (one RQ job per message, forking worker), {result['naive_recipients']:,} "
        f"recipients | {result['naive_msg_s']:,.1f} messages/s "
        f"(batched pipeline is **{result['ratio']:,.0f}x** faster) |\n"
        f"| Provider limit: {result['provider_recipients']:,} recipients, {result['workers']} "
        f"workers, a fake Resend answering 429 above {result['provider_limit_requests_s']} "
        "requests in any sliding second; limits set to the same "
        f"({result['provider_limit_requests_s']} requests × 100 emails = "
        f"{result['provider_ceiling_msg_s']} emails/s) [>= 95% of the ceiling, 0 429s] "
        f"| **{result['provider_achieved_msg_s']:,.0f} emails/s = "
        f"{result['provider_efficiency']:.1%} of the ceiling**, {result['provider_429s']} 429s, "
        f"most requests in any sliding second {result['sliding_window_max_requests']} "
        f"({result['provider_requests']} requests in {result['provider_seconds']} s) |\n"
        f"| Limiter alone, {result['limiter_workers']} processes × 2 threads, limit "
        f"{result['limiter_limit_per_s']}/s, answers 0–40 ms, {result['limiter_seconds']} s | "
        f"achieved {result['limiter_achieved_per_s']}/s ({result.get('limiter_efficiency', 0):.1%}), "
        f"most arrivals in any sliding second {result['limiter_worst_1s']} (bound: the limit) |\n"
        f"| Faults: {result['fault_recipients']:,} recipients, a worker SIGKILLed every 3 s "
        f"({result['fault_kills']} kills), provider 5% 500 + 5% 429 | lost "
        f"**{result['fault_lost']}**, duplicated **{result['fault_duplicated']}** "
        f"({result['fault_seconds']} s) |\n"
        f"| Slow provider: {result['slow_recipients']:,} recipients, "
        f"{result['slow_answer_share']:.0%} of requests answered after the client's timeout "
        f"(accepted; {result['slow_timeouts']} timeouts), the rest at once | lost "
        f"**{result['slow_lost']}**, duplicated **{result['slow_duplicated']}**, failed although "
        f"sent **{result['slow_wrongly_failed']}** ({result['slow_seconds']} s) |\n"
        f"| Crash: {result['crash_recipients']:,} recipients at 500 emails/s, a worker SIGKILLed "
        f"{result['crash_kills']}× mid-batch, lease left at 120 s | lost "
        f"**{result['crash_lost']}**, duplicated **{result['crash_duplicated']}**; the last "
        f"victim's batch taken over after **{result['crash_takeover_s']} s**, send done "
        f"{result['crash_seconds_after_last_kill']} s after the last kill |\n\n"
    )
    text = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n\n"
    pattern = re.compile(r"^## Send pipeline\n.*?(?=^## |\Z)", re.M | re.S)
    text = (
        pattern.sub(lambda _: section, text)
        if pattern.search(text)
        else text.rstrip() + "\n\n" + section
    )
    DOCS.write_text(text)


RUNS = ("throughput", "naive", "limiter", "provider", "faults", "slow", "crash")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes for development")
    parser.add_argument("--skip-limiter", action="store_true")
    parser.add_argument(
        "--only",
        default=",".join(RUNS),
        help=f"comma-separated subset of {','.join(RUNS)}; the other figures are kept from "
        "the last results",
    )
    args = parser.parse_args()
    only = {name.strip() for name in args.only.split(",") if name.strip()}
    unknown = only - set(RUNS)
    if unknown:
        parser.error(f"unknown runs: {', '.join(sorted(unknown))}")
    if args.skip_limiter:
        only.discard("limiter")
    quick = args.quick
    recipients = 10_000 if quick else 100_000
    naive_n = 300 if quick else 1_000
    fault_n = 3_000 if quick else 20_000
    workers = 2
    limiter_seconds = 10 if quick else 60

    result: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    result.update(
        date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        machine=machine(),
        quick=quick,
        workers=workers,
    )
    if "throughput" in only:
        throughput = run_throughput(recipients, workers)
        print(f"throughput: {throughput:,.0f} msg/s ({recipients:,} recipients)", flush=True)
        result.update(recipients=recipients, throughput_msg_s=round(throughput, 1))
    if "naive" in only:
        naive = run_naive(naive_n, workers)
        print(f"naive: {naive:,.1f} msg/s ({naive_n:,} recipients)", flush=True)
        result.update(naive_recipients=naive_n, naive_msg_s=round(naive, 2))
    if result.get("naive_msg_s") and result.get("throughput_msg_s"):
        result["ratio"] = round(result["throughput_msg_s"] / result["naive_msg_s"], 1)
    if "limiter" in only:
        limiter = measure_limiter(REDIS_URL, limit_per_s=50, seconds=limiter_seconds, workers=4)
        print(f"limiter: {limiter}", flush=True)
        result.update(limiter_workers=4, limiter_seconds=limiter_seconds, **limiter)
    if "provider" in only:
        provider = run_provider_limit(5_000 if quick else 20_000, workers)
        print(f"provider limit: {provider}", flush=True)
        result.update(provider)
    if "faults" in only:
        faults = run_faults(fault_n, workers)
        print(f"faults: {faults}", flush=True)
        result.update(faults)
    if "slow" in only:
        slow = run_slow_provider(2_000 if quick else 20_000, workers)
        print(f"slow provider: {slow}", flush=True)
        result.update(slow)
    if "crash" in only:
        crash = run_crash(5_000 if quick else 20_000, workers)
        print(f"crash: {crash}", flush=True)
        result.update(crash)
    write_results("send", result)
    try:
        write_docs(result)
    except KeyError as missing:  # a run never made yet: the JSON has it all the same
        print(f"docs/benchmarks.md not updated: no figure for {missing} yet", flush=True)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
