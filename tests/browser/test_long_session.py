"""Ten minutes of an owner's real work in one tab, while the rest of the suite keeps the machine
busy: no lost connection, no reload, no backend restart, no step that did not finish.

The session itself (tests/browser/long_session.py) starts in the background as soon as pytest
has collected this test (see tests/conftest.py), so it runs alongside the other tests against
its own copy of the app; this test, ordered last, waits for its report.
"""

from __future__ import annotations

import json

import pytest

LONG_SESSION = "tests/browser/test_long_session.py"


def test_ten_minutes_in_one_tab_without_a_reload_or_a_lost_connection(
    request: pytest.FixtureRequest,
) -> None:
    started = getattr(request.config, "long_session", None)
    assert started is not None, "the long session did not start (see tests/conftest.py)"
    proc, report_path, minutes = started
    proc.wait(timeout=minutes * 60 + 900)
    report = json.loads(report_path.read_text())
    log_tail = report.pop("log_tail", "")
    assert "crash" not in report, report["crash"] + log_tail
    assert report["session_s"] >= minutes * 60 * 0.99, report
    assert report["loops"] >= 2, report  # the whole loop, more than once
    assert report["failed_steps"] == [], report
    assert report["websocket_connections_after_login"] == 0, report
    assert report["websocket_disconnects"] == 0, report
    assert report["page_reloads"] == 0, report
    assert report["backend_restarts"] == 0 and report["server_alive"], report
    assert report["alerts_on_screen"] == 0, report
    assert report["console_errors"] == [], report
