"""A scheduler process for tests/core/test_automation_concurrency.py: runs the automation engine
tick after tick on a controlled clock, saying when each tick starts and ends, until killed.

    python -m tests.core.automation_runner START_ISO HOURS_PER_TICK FIRST_TICK LAST_TICK

The database, Redis and queue come from the environment (tests' send_settings).
"""

from __future__ import annotations

import os
import sys
from datetime import datetime, timedelta

from sqlmodel import Session

from marketing_ui.core.automations import engine as automations
from marketing_ui.core.db import make_engine
from marketing_ui.infra import rq_jobs


def main() -> None:
    start, hours, first, last = sys.argv[1:5]
    rq_jobs.install()
    db = make_engine(os.environ["DATABASE_URL"])
    with Session(db, expire_on_commit=False) as session:
        for tick in range(int(first), int(last) + 1):
            print(f"start {tick}", flush=True)
            now = datetime.fromisoformat(start) + timedelta(hours=int(hours) * tick)
            automations.run(session, now)
            print(f"end {tick}", flush=True)


if __name__ == "__main__":
    main()
