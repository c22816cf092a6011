"""The progress page says what the remaining messages wait for and when they go on."""

from __future__ import annotations

from marketing_ui.core.sending import Wait
from marketing_ui.state.campaign_progress import _wait_text


def test_each_wait_reads_as_what_it_waits_for_and_when_it_resumes() -> None:
    assert _wait_text(Wait("worker_lost", 3)).startswith(
        "3 messages waiting: worker lost, resuming within 15 s"
    )
    assert _wait_text(Wait("quiet_hours", 120, "2026-12-01T08:00:00+00:00")).startswith(
        "120 SMS waiting for quiet hours to end"
    )
    assert "first at 08:00 UTC" in _wait_text(Wait("quiet_hours", 120, "2026-12-01T08:00:00+00:00"))
    assert _wait_text(Wait("unknown_outcome", 40, "2026-12-01T14:02:00+00:00")) == (
        "40 outcome unknown (the provider did not answer in time), re-checking at 14:02 UTC."
    )
    assert _wait_text(Wait("rate_limited", 1, "2026-12-01T14:02:07+00:00")).endswith(
        "resuming at 14:02:07 UTC."
    )
    assert "retrying now" in _wait_text(Wait("retry_after_error", 2))
