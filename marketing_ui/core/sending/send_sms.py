"""One SMS batch job: claim -> quiet hours -> render -> look up unknown outcomes -> consent ->
rate-limit -> deliver -> record, one message at a time.

Twilio has no idempotency key. The claim marks a delivery in flight *before* the call and the
SID is stored right after it. A delivery that comes back with an unknown outcome (a timeout,
a 5xx, or a lease that expired because a worker died mid-call) is looked up with
`find_sent` first and recorded as sent if Twilio has it: never a blind resend.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from marketing_ui.core.app_settings import business_identity, sending_limits
from marketing_ui.core.clock import utcnow
from marketing_ui.core.config import get_settings
from marketing_ui.core.db import session_scope
from marketing_ui.core.jobs import SMS
from marketing_ui.core.models import Campaign, CampaignStatus, WaitReason
from marketing_ui.core.sending import queueing
from marketing_ui.core.sending.claim import Claimed, claim, release, unreachable
from marketing_ui.core.sending.commands import abort_if_failing, finish_if_done
from marketing_ui.core.sending.compose import load_recipients, sms_bodies
from marketing_ui.core.sending.live import mark_active
from marketing_ui.core.sending.providers import (
    OutgoingSms,
    ProviderUnavailable,
    SendResult,
    sms_provider,
)
from marketing_ui.core.sending.providers.base import sms_weight, unanswered
from marketing_ui.core.sending.quiet_hours import QUIET_NOTE, next_allowed, recipient_zone
from marketing_ui.core.sending.rate_limiter import RateLimited
from marketing_ui.core.sending.record import Retry, record, record_skipped
from marketing_ui.core.sending.send_email import cancel_listed
from marketing_ui.core.sending.throttle import MAX_WAIT_S, sms_limiter
from marketing_ui.core.webhooks import status_callback_url

LOOKUP_MARGIN = timedelta(seconds=5)


def maybe_sent(claimed: Claimed) -> bool:
    """A previous try may have reached Twilio: it answered before (an answer counts an attempt,
    and a 5xx may follow an acceptance), or an answer is still unknown (timeout, worker lost)."""
    return claimed.attempts > 1 or claimed.unknown_since is not None


def run_batch(campaign_id: int, delivery_ids: list[int]) -> dict[str, int]:
    """The RQ job body (workers.tasks.send_sms_batch)."""
    settings = get_settings()
    now = utcnow()
    mark_active(campaign_id, SMS)
    summary = {"claimed": 0, "sent": 0, "skipped": 0, "failed": 0, "deferred": 0, "quiet": 0}
    retries: list[Retry] = []
    totals: dict[str, int] = {}
    with session_scope() as session:
        campaign = session.get(Campaign, campaign_id)
        if campaign is None:
            return summary
        if campaign.status == CampaignStatus.CANCELLED:
            cancel_listed(session, delivery_ids)
            return summary
        if campaign.status != CampaignStatus.SENDING:
            return summary
        limits = sending_limits(session)
        business = business_identity(session)
        claimed = claim(session, campaign_id, SMS, delivery_ids, now)
        summary["claimed"] = len(claimed)
        if not claimed:
            finish_if_done(session, campaign_id)
            return summary
        recipients = load_recipients(session, SMS, claimed)
        skipped = [(c, "customer deleted") for c in claimed if c.id not in recipients]

        # Quiet hours in the recipient's zone: wait (untried) until the window opens.
        waiting: dict[datetime, list[int]] = defaultdict(list)
        for r in recipients.values():
            zone = recipient_zone(r.address, r.timezone, business.timezone)
            opens = next_allowed(now, zone, limits.quiet_end_hour, limits.quiet_start_hour)
            if opens > now:
                waiting[opens].append(r.delivery.id)
        for opens, ids in waiting.items():
            release(
                session,
                ids,
                now,
                next_attempt_at=opens,
                error=QUIET_NOTE,
                wait_reason=WaitReason.QUIET_HOURS,
            )
            queueing.enqueue_deliveries(campaign_id, SMS, ids, at=opens + timedelta(seconds=1))
            summary["quiet"] += len(ids)
        quiet = {i for ids in waiting.values() for i in ids}
        active = [r for r in recipients.values() if r.delivery.id not in quiet]

        bodies, render_errors = sms_bodies(session, campaign, active, business)
        failures = [
            (r.delivery, SendResult(key=f"d{r.delivery.id}", ok=False, error=render_errors[i]))
            for r in active
            if (i := r.delivery.id) in render_errors
        ]
        if failures:
            record(session, campaign_id, SMS, failures, limits.max_attempts, now)
            summary["failed"] += len(failures)
        active = [r for r in active if r.delivery.id in bodies]
        reasons = unreachable(session, SMS, [r.delivery.customer_id for r in active])

        from_number = settings.twilio_from_number
        limiter = sms_limiter(limits, sms_provider(settings).name, from_number)
        provider = sms_provider(settings, gate=limiter)  # a permit (by segments) per message
        callback = status_callback_url() if provider.name == "twilio" else None
        for index, r in enumerate(active):
            c, body = r.delivery, bodies[r.delivery.id]
            result: SendResult | None = None
            if maybe_sent(c):
                try:
                    sid = provider.find_sent(r.address, body, c.created_at - LOOKUP_MARGIN)
                except ProviderUnavailable as exc:  # still unknown: never resend blind
                    result = unanswered(f"d{c.id}", f"{exc}; outcome still unknown")
                else:
                    if sid:
                        result = SendResult(key=f"d{c.id}", ok=True, provider_id=sid)
            if result is None and c.customer_id in reasons:
                skipped.append((c, reasons[c.customer_id]))
                continue
            if result is None:
                wait = limiter.wait_estimate()
                if wait <= MAX_WAIT_S:
                    try:
                        result = provider.send(
                            OutgoingSms(
                                key=f"d{c.id}",
                                to=r.address,
                                from_=from_number,
                                body=body,
                                status_callback=callback,
                            )
                        )
                    except RateLimited as exc:  # no permit in time: nothing reached the provider
                        wait = exc.wait_s
                if result is None:
                    later = [x.delivery.id for x in active[index:]]
                    release(session, later, now)
                    queueing.enqueue_deliveries(
                        campaign_id, SMS, later, at=utcnow() + timedelta(seconds=max(wait, 0.2))
                    )
                    summary["deferred"] += len(later)
                    break
                if result.retry_after_s:
                    limiter.penalize(result.retry_after_s)
            done = record(
                session,
                campaign_id,
                SMS,
                [(c, result)],
                limits.max_attempts,
                utcnow(),
                segments={c.id: sms_weight(body)},
            )
            retries += done.retries
            totals = done.totals
            if result.ok:
                summary["sent"] += 1
            elif not result.transient:
                summary["failed"] += 1
        record_skipped(session, SMS, skipped, now)
        summary["skipped"] = len(skipped)
        for retry in retries:
            queueing.enqueue_deliveries(campaign_id, SMS, retry.ids, at=retry.at)
        if totals and abort_if_failing(session, campaign_id, totals):
            return summary
        finish_if_done(session, campaign_id)
    return summary
