"""One email batch job, stage by stage: claim -> consent -> render -> rate-limit -> deliver -> record.

Exactly-once: a batch that reached the provider is a *group* (Delivery.send_key, stored
before the call). A group is always claimed and sent whole, and its Idempotency-Key is
derived from its delivery ids, so a retry after a timeout, a 5xx, or a worker killed between
the provider accepting and us recording is answered from the provider's idempotency store
instead of sending again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import update
from sqlmodel import Session

from marketing_ui.core.app_settings import business_identity, sending_limits
from marketing_ui.core.clock import utcnow
from marketing_ui.core.config import get_settings
from marketing_ui.core.db import session_scope
from marketing_ui.core.jobs import EMAIL
from marketing_ui.core.models import Campaign, CampaignStatus, Delivery, DeliveryStatus
from marketing_ui.core.sending import queueing
from marketing_ui.core.sending.claim import Claimed, claim, release, set_send_key, unreachable
from marketing_ui.core.sending.commands import abort_if_failing, finish_if_done
from marketing_ui.core.sending.compose import Recipient, email_messages, load_recipients
from marketing_ui.core.sending.live import mark_active
from marketing_ui.core.sending.providers import SendResult, email_provider
from marketing_ui.core.sending.rate_limiter import RateLimited
from marketing_ui.core.sending.record import Retry, record, record_skipped
from marketing_ui.core.sending.throttle import MAX_WAIT_S, email_limiter


def group_key(campaign_id: int, ids: Sequence[int]) -> str:
    """The provider group of deliveries first offered together."""
    digest = hashlib.sha256(",".join(map(str, sorted(ids))).encode()).hexdigest()
    return f"e{campaign_id}-{digest[:40]}"


def idempotency_key(send_key: str, ids: Sequence[int]) -> str:
    """Same group, same members -> same key; a partial replay gets its own key."""
    digest = hashlib.sha256(f"{send_key}:{','.join(map(str, sorted(ids)))}".encode()).hexdigest()
    return f"mk-{digest[:48]}"


def cancel_listed(session: Session, ids: Sequence[int]) -> None:
    """A cancelled campaign's queued job: make sure its deliveries never go out."""
    session.execute(
        update(Delivery)
        .where(Delivery.id.in_(list(ids)), Delivery.status == DeliveryStatus.PENDING)
        .values(status=DeliveryStatus.CANCELLED.value, updated_at=utcnow())
    )
    session.commit()


def run_batch(campaign_id: int, delivery_ids: list[int]) -> dict[str, int]:
    """The RQ job body (workers.tasks.send_email_batch); returns counts for logs and tests."""
    settings = get_settings()
    now = utcnow()
    mark_active(campaign_id, EMAIL)
    summary = {"claimed": 0, "sent": 0, "skipped": 0, "failed": 0, "deferred": 0}
    retries: list[Retry] = []
    with session_scope() as session:
        campaign = session.get(Campaign, campaign_id)
        if campaign is None:
            return summary
        if campaign.status == CampaignStatus.CANCELLED:
            cancel_listed(session, delivery_ids)
            return summary
        if campaign.status != CampaignStatus.SENDING:
            return summary  # paused: resume() queues the pending deliveries again
        limits = sending_limits(session)
        business = business_identity(session)
        claimed = claim(session, campaign_id, EMAIL, delivery_ids, now, whole_groups=True)
        summary["claimed"] = len(claimed)
        if not claimed:
            finish_if_done(session, campaign_id)
            return summary

        # Consent and suppression at send time, for deliveries never offered to a provider.
        fresh = [c for c in claimed if c.send_key is None]
        reasons = unreachable(session, EMAIL, [c.customer_id for c in fresh])
        skipped = [(c, reasons[c.customer_id]) for c in fresh if c.customer_id in reasons]
        offered = [c for c in claimed if not (c.send_key is None and c.customer_id in reasons)]
        recipients = load_recipients(session, EMAIL, offered)
        skipped += [(c, "customer deleted") for c in offered if c.id not in recipients]
        record_skipped(session, EMAIL, skipped, now)
        summary["skipped"] = len(skipped)

        # Render; failures are permanent (the template or the data is wrong, not the network).
        wanted = [recipients[c.id] for c in offered if c.id in recipients]
        messages, render_errors = email_messages(session, campaign, wanted, business)
        if render_errors:
            by_id = {c.id: c for c in claimed}
            failures = [
                (by_id[i], SendResult(key=f"d{i}", ok=False, error=e))
                for i, e in render_errors.items()
            ]
            record(session, campaign_id, EMAIL, failures, limits.max_attempts, now)
            summary["failed"] += len(failures)
        by_key = {m.key: m for m in messages}
        fresh_ok = [r.delivery.id for r in wanted if r.delivery.send_key is None]
        fresh_ok = [i for i in fresh_ok if f"d{i}" in by_key]
        groups: dict[str, list[Recipient]] = {}
        size = limits.emails_per_request  # one group is one request to the provider
        for start in range(0, len(fresh_ok), size):
            chunk = fresh_ok[start : start + size]
            key = group_key(campaign_id, chunk)
            set_send_key(session, chunk, key)  # before the call: a crash replays this group
            chunk_set = set(chunk)
            for r in wanted:
                if r.delivery.id in chunk_set:
                    groups.setdefault(key, []).append(r)
        for r in wanted:
            if r.delivery.send_key is not None and f"d{r.delivery.id}" in by_key:
                groups.setdefault(r.delivery.send_key, []).append(r)

        limiter = email_limiter(limits, email_provider(settings).name)
        provider = email_provider(settings, gate=limiter)  # a permit around every request
        items = list(groups.items())
        totals: dict[str, int] = {}
        for index, (send_key, members) in enumerate(items):
            batch = [by_key[f"d{r.delivery.id}"] for r in members]
            ids = [r.delivery.id for r in members]
            wait = limiter.wait_estimate()
            results = None
            if wait <= MAX_WAIT_S:
                try:
                    results = provider.send_batch(batch, idempotency_key(send_key, ids))
                except RateLimited as exc:  # no permit in time: nothing was sent
                    wait = exc.wait_s
            if results is None:
                # Do not hold the job hostage: give the rest back and come back when a permit
                # is due (nothing of these reached the provider, so no attempt is used up).
                later = [(r.delivery.id, key) for key, rs in items[index:] for r in rs]
                release(session, [i for i, _ in later], now)
                queueing.enqueue_deliveries(
                    campaign_id, EMAIL, later, at=utcnow() + timedelta(seconds=max(wait, 0.2))
                )
                summary["deferred"] += len(later)
                break
            pause_s = max((r.retry_after_s or 0.0 for r in results), default=0.0)
            if pause_s:
                limiter.penalize(pause_s)  # everyone slows down, not just this worker
            outcome = _pair(members, results)
            done = record(session, campaign_id, EMAIL, outcome, limits.max_attempts, utcnow())
            retries += done.retries
            totals = done.totals
            summary["sent"] += sum(1 for _, r in outcome if r.ok)
            summary["failed"] += sum(1 for _, r in outcome if not r.ok and not r.transient)
        for retry in retries:
            queueing.enqueue_deliveries(campaign_id, EMAIL, retry.ids, at=retry.at)
        if totals and abort_if_failing(session, campaign_id, totals):
            return summary
        finish_if_done(session, campaign_id)
    return summary


def _pair(members: list[Recipient], results: list[SendResult]) -> list[tuple[Claimed, SendResult]]:
    """Match provider results to deliveries by message key; a missing one is an unknown outcome."""
    by_key = {r.key: r for r in results}
    return [
        (
            m.delivery,
            by_key.get(f"d{m.delivery.id}")
            or SendResult(key=f"d{m.delivery.id}", ok=False, transient=True, error="no result"),
        )
        for m in members
    ]
