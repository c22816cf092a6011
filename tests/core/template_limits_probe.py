"""Render runaway templates in a fresh interpreter for tests/core/test_template_limits.py.

Reads a JSON list of template sources on stdin; writes, per source in order, the TemplateError
it raised (or null), how long it took and this process's peak memory (MB) after it.
"""

from __future__ import annotations

import json
import resource
import sys
import time

from marketing_ui.core.rendering import TemplateError, compile_text, sample_context


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
                "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
            }
        )
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
