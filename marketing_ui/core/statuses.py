"""Campaign and delivery statuses, the moves allowed between them, and the named sets the app uses.

Every "is this campaign live / editable / finished" question is answered here, so the list,
the progress page, analytics and the send pipeline cannot disagree about it.

Campaign moves (commands in core/sending and core/campaigns, the guard, the scheduler):

    draft ──schedule──▶ scheduled ──(time comes)──▶ sending ──(all settled)──▶ sent | failed
      │  ◀──unschedule──┘   │                        │  ▲
      └────────start────────┼───────────────────────▶│  │ resume
                            │                        ▼  │
                            │                      paused (by the owner or the guard)
      scheduled, sending, paused ──cancel──▶ cancelled
      sent, failed ──retry failed──▶ sending
"""

from __future__ import annotations

from enum import StrEnum


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    PAUSED = "paused"
    SENT = "sent"
    CANCELLED = "cancelled"
    FAILED = "failed"


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # frozen, not yet attempted (or waiting for a retry)
    INFLIGHT = "inflight"  # a worker holds the lease and may be talking to the provider
    SENT = "sent"  # provider accepted it
    DELIVERED = "delivered"  # provider confirmed delivery (webhook)
    FAILED = "failed"  # permanent failure or retries exhausted
    BOUNCED = "bounced"
    SKIPPED = "skipped"  # consent withdrawn / suppressed, or the frequency cap (skip_reason)
    CANCELLED = "cancelled"


class WaitReason(StrEnum):
    """Why a pending (or held) delivery is not going out right now ("" on Delivery: no wait)."""

    QUIET_HOURS = "quiet_hours"  # SMS outside 08:00-21:00 in the recipient's zone
    WORKER_LOST = (
        "worker_lost"  # its worker died (heartbeat gone or lease expired): outcome unknown
    )
    UNKNOWN_OUTCOME = "unknown_outcome"  # the provider did not answer (timeout, connection lost)
    RATE_LIMITED = "rate_limited"  # the shared limiter or a 429 said "later"
    RETRY_AFTER_ERROR = "retry_after_error"  # the provider answered with a temporary error


class FailureKind(StrEnum):
    """Why a campaign failed ("" on Campaign: it did not); the text is derived, not stored state."""

    THRESHOLD = "threshold"  # too many failed messages (the text is recomputed from the rows)
    START = "start"  # a scheduled send could not start


_C = CampaignStatus
_D = DeliveryStatus

CAMPAIGN_MOVES: dict[CampaignStatus, frozenset[CampaignStatus]] = {
    _C.DRAFT: frozenset({_C.SCHEDULED, _C.SENDING}),
    _C.SCHEDULED: frozenset({_C.DRAFT, _C.SCHEDULED, _C.SENDING, _C.CANCELLED}),
    _C.SENDING: frozenset({_C.PAUSED, _C.SENT, _C.FAILED, _C.CANCELLED}),
    _C.PAUSED: frozenset({_C.SENDING, _C.CANCELLED, _C.FAILED}),
    _C.SENT: frozenset({_C.SENDING}),  # retry failed deliveries
    _C.FAILED: frozenset({_C.SENDING}),  # retry failed deliveries
    _C.CANCELLED: frozenset(),
}


def can_move(current: str, to: str) -> bool:
    """Whether a campaign may go from `current` to `to` (see the picture above)."""
    return CampaignStatus(to) in CAMPAIGN_MOVES.get(CampaignStatus(current), frozenset())


def sources_of(to: CampaignStatus) -> tuple[CampaignStatus, ...]:
    """Every status a campaign may reach `to` from: the WHERE of a conditional status update."""
    return tuple(s for s, targets in CAMPAIGN_MOVES.items() if to in targets)


# Campaigns ------------------------------------------------------------------------------------

EDITABLE = (_C.DRAFT, _C.SCHEDULED)  # content and audience may still change
DELETABLE = (_C.DRAFT, _C.CANCELLED)  # nothing was sent, so nothing to keep
IN_PROGRESS = (_C.SENDING, _C.PAUSED)  # audience frozen, deliveries not all settled
UNFINISHED = (_C.SCHEDULED, *IN_PROGRESS)  # may still send: cannot be archived, pages keep watching
FINISHED = (_C.SENT, _C.FAILED, _C.CANCELLED)
HAS_PROGRESS = (*IN_PROGRESS, *FINISHED)  # a send was started: there is a progress page to show
RETRYABLE = (_C.SENDING, _C.PAUSED, _C.SENT, _C.FAILED)  # failed deliveries may be retried

# Deliveries -----------------------------------------------------------------------------------

ACCEPTED = (_D.SENT, _D.DELIVERED, _D.BOUNCED)  # the provider took it (a bounce came after)
REACHED = (_D.SENT, _D.DELIVERED)  # accepted and not bounced: the list's "sent"
UNDELIVERED = (_D.FAILED, _D.BOUNCED)  # the list's "failed": never reached the person
UNSETTLED = (_D.PENDING, _D.INFLIGHT)  # may still be attempted
SETTLED = tuple(s for s in DeliveryStatus if s not in UNSETTLED)


def values(statuses: tuple[StrEnum, ...]) -> list[str]:
    """Plain strings, for SQL `IN` parameters and raw queries."""
    return [s.value for s in statuses]
