"""The periodic tick: due scheduled campaigns, the sweepers, automations, overdue RQ jobs; one at a time.

Every `python -m workers.run` starts `start_periodic()` (a daemon thread). Each tick the
threads race for a short Redis lock (`SET NX PX`), so with any number of workers on any
number of hosts the tick runs about once per TICK_S, and keeps running when one host dies.
Why not RQ's own scheduling: `enqueue_in`/`Repeat` jobs wait behind a long send queue, and a
tick lost in a Redis restart would never come back; a thread in every worker cannot be lost.
"""

from __future__ import annotations

import logging
import threading

from marketing_ui.core import deliverability, import_jobs, redis_keys, signup
from marketing_ui.core.automations import engine as automations
from marketing_ui.core.db import session_scope
from marketing_ui.core.redis_client import get_redis
from marketing_ui.core.sending import ab_decision, run_due_schedules
from marketing_ui.core.sending.queueing import promote_overdue
from marketing_ui.core.sending.sweeper import sweep

log = logging.getLogger(__name__)
TICK_S = 5.0


def tick() -> None:
    """One round of periodic work (also callable directly, e.g. from tests)."""
    with session_scope() as session:
        started = run_due_schedules(session)
        if started:
            log.info("started scheduled campaigns %s", started)
        sweep(session)
    with session_scope() as session:
        paused = deliverability.enforce_sending(session)  # sample sizes grow with every send
        if paused:
            log.warning("deliverability guard paused campaigns %s", paused)
    with session_scope() as session:
        import_jobs.sweep(session)  # uploads kept no longer than needed, lost imports recovered
        signup.purge_expired(session)  # unconfirmed signups' addresses kept no longer than asked
    with session_scope() as session:
        decided = ab_decision.decide_due(session)  # A/B tests past their window: the rest
        if decided:
            log.info("A/B tests decided %s", [(d.campaign_id, d.variant_id) for d in decided])
    with session_scope() as session:
        report = automations.run_if_due(session)  # at most once a minute, whoever ticks
        if report and (report.batches or report.skipped):
            log.info("automations: batches %s, skipped %s", report.batches, report.skipped)
    promote_overdue()


def _lock_key() -> str:
    return redis_keys.send_tick_lock()


def _run(stop: threading.Event) -> None:
    while not stop.wait(TICK_S):
        try:
            if get_redis().set(_lock_key(), "1", nx=True, px=int(TICK_S * 1000 * 0.9)):
                tick()
        except Exception:  # noqa: BLE001 - the next tick tries again; never kill the worker
            log.exception("periodic tick failed")


def start_periodic() -> threading.Event:
    """Start the tick thread; set the returned event to stop it."""
    stop = threading.Event()
    threading.Thread(target=_run, args=(stop,), name="send-periodic", daemon=True).start()
    return stop
