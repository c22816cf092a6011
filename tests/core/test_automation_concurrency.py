"""Two schedulers at once, and a scheduler process killed part-way through its runs: on SQLite and
PostgreSQL, every occurrence is still recorded once, put in one batch and frozen as one message."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from marketing_ui.core.automations import engine as automations
from marketing_ui.core.models import AutomationKind, AutomationOccurrence, ConsentEvent
from tests.core.test_automation_engine import (
    START,
    assert_each_occurrence_sent_once,
    automation,
    customer,
    env,  # noqa: F401 - the fixture
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
HOURS_PER_TICK = 12


@pytest.fixture
def crowd(env: Session) -> Iterator[tuple[Session, list[int]]]:  # noqa: F811
    """Welcome, birthday and win-back switched on over 150 customers whose triggers spread over
    the first 30 days."""
    rows = [
        automation(env, AutomationKind.WELCOME, delay_hours=24),
        automation(env, AutomationKind.BIRTHDAY, days_before=2),
        automation(env, AutomationKind.WINBACK, inactive_days=30, period_days=20),
    ]
    for i in range(150):
        birthday = START + timedelta(days=i % 30)
        who = customer(
            env,
            f"c{i}",
            birthday_month=birthday.month,
            birthday_day=birthday.day,
            last_visit_at=START - timedelta(days=i % 40),
        )
        env.add(ConsentEvent(customer_id=who, channel="email", granted=True, source="manual",
                             created_at=START + timedelta(hours=4 * i)))  # fmt: skip
    env.commit()
    yield env, [int(row.id or 0) for row in rows]


def _recorded(session: Session) -> int:
    session.expire_all()
    return session.execute(select(func.count()).select_from(AutomationOccurrence)).scalar_one()


def test_two_schedulers_at_once_send_each_occurrence_once(
    crowd: tuple[Session, list[int]], engine: Engine
) -> None:
    """Both run every tick at the same moment (the once-a-minute lock in Redis bypassed)."""
    session, automation_ids = crowd
    ticks = 2 * 30
    gate = threading.Barrier(2)
    failures: list[BaseException] = []

    def scheduler() -> None:
        try:
            with Session(engine, expire_on_commit=False) as own:
                for tick in range(ticks):
                    gate.wait()
                    automations.run(own, START + timedelta(hours=HOURS_PER_TICK * tick))
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)
            gate.abort()

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    automations.run(session, START + timedelta(hours=HOURS_PER_TICK * ticks))  # anything left

    assert _recorded(session) > 150
    for automation_id in automation_ids:
        assert_each_occurrence_sent_once(session, automation_id)


def test_a_scheduler_killed_mid_run_loses_and_duplicates_nothing(
    crowd: tuple[Session, list[int]],
) -> None:
    """A real process runs the ticks and is killed with SIGKILL as soon as it says a tick has
    started, five times over; a healthy scheduler then runs every tick again."""
    session, automation_ids = crowd
    ticks, next_tick, killed_inside_a_run = 2 * 30, 0, 0
    for _ in range(5):
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.core.automation_runner", START.isoformat(),
             str(HOURS_PER_TICK), str(next_tick), str(ticks)],
            cwd=PROJECT_ROOT, env=dict(os.environ), stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert proc.stdout is not None
        target = next_tick + 6
        for line in proc.stdout:
            if line.strip() == f"start {target}":
                proc.kill()
                break
        rest = proc.stdout.read()
        proc.wait(timeout=30)
        assert proc.returncode == -9
        killed_inside_a_run += f"end {target}" not in rest
        next_tick = target
    assert killed_inside_a_run >= 1  # at least one kill landed inside a run, not between two
    for tick in range(ticks + 1):
        automations.run(session, START + timedelta(hours=HOURS_PER_TICK * tick))

    assert _recorded(session) > 150
    for automation_id in automation_ids:
        assert_each_occurrence_sent_once(session, automation_id)
