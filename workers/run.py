"""Worker entry point: `python -m workers.run` (any number, on any host sharing Redis and the DB)."""

from __future__ import annotations

import argparse
import logging

from rq import SimpleWorker, Worker

from marketing_ui.core.config import get_settings
from marketing_ui.core.jobs import ALL
from marketing_ui.core.redis_client import get_redis
from marketing_ui.core.sending import heartbeat
from marketing_ui.infra.rq_jobs import install, queue_name
from workers.health import health_check
from workers.scheduler import start_periodic


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run an RQ worker for the campaign manager.")
    parser.add_argument("--queues", nargs="*", default=list(ALL), help=f"subset of {ALL}")
    parser.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    parser.add_argument(
        "--fork", action="store_true", help="fork a work horse per job (RQ default; slower)"
    )
    parser.add_argument("--name", default=None)
    parser.add_argument(
        "--no-periodic",
        action="store_true",
        help="do not run the periodic tick (scheduled sends, sweeper) in this worker",
    )
    args = parser.parse_args(argv)
    get_settings()  # fail fast on bad configuration
    install()  # the core queues retries and follow-ups through RQ
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    worker_class = Worker if args.fork else SimpleWorker
    worker = worker_class(
        [queue_name(q) for q in args.queues], connection=get_redis(), name=args.name
    )
    try:
        health_check()  # proof of life at once: a fresh start shows green in Settings
    except Exception:  # noqa: BLE001 - jobs report their own errors; the worker still serves
        logging.getLogger(__name__).exception("health check at start failed")
    heartbeat.start()  # claims name this process; the tick takes them over when it dies
    if not args.no_periodic:
        start_periodic()  # one worker at a time runs it (Redis lock); see workers/scheduler.py
    worker.work(burst=args.burst, with_scheduler=True, logging_level="INFO")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
