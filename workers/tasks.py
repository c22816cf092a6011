"""The RQ job functions (what queues reference by dotted path); each is a thin entry point."""

from __future__ import annotations

from marketing_ui.core import signup
from marketing_ui.core.db import session_scope
from marketing_ui.core.sending import finish_if_done, send_email, send_sms, sweeper
from marketing_ui.core.sending import run_due_schedules as _run_due_schedules


def send_email_batch(campaign_id: int, delivery_ids: list[int]) -> dict[str, int]:
    """Claim, render, rate-limit, deliver and record up to one provider batch of emails."""
    return send_email.run_batch(campaign_id, delivery_ids)


def send_sms_batch(campaign_id: int, delivery_ids: list[int]) -> dict[str, int]:
    """Claim, check quiet hours, render, rate-limit, deliver and record a few SMS."""
    return send_sms.run_batch(campaign_id, delivery_ids)


def sweep_stale() -> dict[str, object]:
    """Reclaim expired leases, re-queue lost work, finish campaigns with nothing left."""
    with session_scope() as session:
        report = sweeper.sweep(session)
    return {
        "reclaimed": report.reclaimed,
        "requeued": report.requeued_campaigns,
        "finished": report.finished,
    }


def run_due_schedules() -> list[int]:
    """Start scheduled campaigns whose time has come."""
    with session_scope() as session:
        return _run_due_schedules(session)


def finish_check(campaign_id: int) -> str | None:
    """End a campaign as sent/failed if nothing is left (also done after every batch)."""
    with session_scope() as session:
        return finish_if_done(session, campaign_id)


def send_signup_confirmation(request_uid: str, asked_us: int, attempt: int = 0) -> str:
    """Send the confirmation (email link or SMS YES) a signup asked for."""
    with session_scope() as session:
        return signup.send_confirmation(session, request_uid, asked_us, attempt)
