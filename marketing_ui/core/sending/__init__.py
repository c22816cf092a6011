"""The send context: everything about sending a campaign, from the owner's click to the provider.

Pages, endpoints and the workers' entry points call what this file exports; the stages below
it are named for what they do (see docs/send_pipeline.md and docs/architecture.md):

- frequency_cap: who is held back at the freeze (and how many would be, for the send page)
- commands: freeze the audience, start, schedule, pause/resume/cancel, retry, finish
- ab_decision: an A/B test's winner, after its window (the tick) or picked by hand
- progress, live: what the progress page shows; live counters in Redis
- trial: "send a test"
- queueing: batch jobs of delivery ids (through core.jobs, never RQ itself)
- claim -> compose -> throttle/rate_limiter -> providers -> record: one batch in a worker
  (send_email, send_sms); quiet_hours; sweeper and heartbeat recover lost work
"""

from marketing_ui.core.sending.commands import (
    SendError,
    StartResult,
    abort_if_failing,
    cancel,
    current_failure_reason,
    enqueue_pending,
    finish_if_done,
    pause,
    resume,
    retry_failed,
    run_due_schedules,
    schedule_send,
    start_batch,
    start_send,
    unschedule,
)
from marketing_ui.core.sending.frequency_cap import held_back_counts
from marketing_ui.core.sending.progress import (
    ChannelProgress,
    Progress,
    Wait,
    progress,
    recent_errors,
)
from marketing_ui.core.sending.trial import (
    MAX_TEST_RECIPIENTS,
    TestRecipient,
    parse_test_recipients,
    send_test,
)

__all__ = [
    "MAX_TEST_RECIPIENTS",
    "ChannelProgress",
    "Progress",
    "SendError",
    "StartResult",
    "TestRecipient",
    "Wait",
    "abort_if_failing",
    "cancel",
    "current_failure_reason",
    "enqueue_pending",
    "finish_if_done",
    "held_back_counts",
    "parse_test_recipients",
    "pause",
    "progress",
    "recent_errors",
    "resume",
    "retry_failed",
    "run_due_schedules",
    "schedule_send",
    "send_test",
    "start_batch",
    "start_send",
    "unschedule",
]
