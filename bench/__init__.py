"""Benchmarks: each is `python -m bench.NAME` (with `--quick` for a small size)."""

from marketing_ui.infra import rq_jobs

rq_jobs.install()  # a benchmark is a process entry point: the core queues through RQ
