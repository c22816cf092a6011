"""The one way benchmarks record results: a flat JSON of numbers plus the date, and their own
section of docs/benchmarks.md (the machine and sizes are stated there)."""

from __future__ import annotations

import json
import os
import platform
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "bench" / "results"
DOCS = ROOT / "docs" / "benchmarks.md"


def machine() -> str:
    """Architecture, CPU model and core count, as the benchmark page records them."""
    model = platform.processor() or "unknown CPU"
    try:
        found = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
        model = found.group(1).strip() if found else model
    except OSError:
        pass
    return f"{platform.machine()}, {model}, {os.cpu_count()} cores"


def write_results(name: str, result: dict[str, Any]) -> Path:
    """bench/results/NAME.json: every numeric metric (bools as 0/1) plus "date"; text is dropped."""
    flat: dict[str, Any] = {"date": result["date"]}
    for key, value in sorted(result.items()):
        if isinstance(value, bool):
            flat[key] = int(value)
        elif isinstance(value, int | float):
            flat[key] = value
    path = RESULTS_DIR / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(flat, indent=2) + "\n")
    return path


def replace_section(title: str, body: str) -> None:
    """Replace only the `## {title}` section of docs/benchmarks.md, keeping everyone else's."""
    section = f"## {title}\n\n{body.strip()}\n\n"
    text = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.M | re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip() + "\n\n" + section
    DOCS.parent.mkdir(parents=True, exist_ok=True)
    DOCS.write_text(text.rstrip() + "\n")
