"""Render runaway templates in a fresh interpreter for tests/core/test_template_limits.py.

Reads a JSON list of template sources on stdin; writes, per source in order, the TemplateError
it raised (or null), how long it took and this process's peak memory (MB) after it.

The peak is the address space's high-water mark (VmHWM), which starts afresh at exec; the rusage
maximum does not, a child forked from a large test process starts with the parent's size.
"""

from __future__ import annotations

import json
import sys
import time

from marketing_ui.core.rendering import TemplateError, compile_text, sample_context


def peak_mb() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def main() -> None:
    results = []
    for source in json.loads(sys.stdin.read()):
        started = time.monotonic()
        error = None
        try:
            compile_text(source, what="SMS").render(sample_context())
        except TemplateError as exc:
            error = str(exc)
        results.append(
            {
                "error": error,
                "seconds": time.monotonic() - started,
                "peak_mb": peak_mb(),
            }
        )
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
