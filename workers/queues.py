"""The RQ queues: one per kind of work so email, SMS and imports never wait behind each other."""

from __future__ import annotations

from rq import Queue

from marketing_ui.core.config import get_settings
from marketing_ui.core.redis_client import get_redis

DEFAULT = "default"
EMAIL = "email"
SMS = "sms"
IMPORTS = "imports"
ALL = (EMAIL, SMS, IMPORTS, DEFAULT)


def queue_name(kind: str) -> str:
    return f"{get_settings().queue_prefix}:{kind}"


def get_queue(kind: str) -> Queue:
    return Queue(queue_name(kind), connection=get_redis())


def all_queues() -> list[Queue]:
    return [get_queue(kind) for kind in ALL]
