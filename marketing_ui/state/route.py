"""Route parameters, read one way: the `[name]` segment Reflex parsed, checked as a positive id
or as one of a fixed set of words.

A State must not declare a var named like a route segment: in Reflex 0.10 it silently shadows
the route's own var. Pages keep the id they loaded in `shown_campaign_id` instead.
"""

from __future__ import annotations

from collections.abc import Iterable

from reflex.state import BaseState

MAX_ID_DIGITS = 9  # ids fit an INTEGER column; a longer number is no id of ours


def route_id(state: BaseState, name: str = "campaign_id") -> int:
    """The id in the route's `[name]` segment; 0 when it is missing or not a positive number."""
    raw = state.rx_router_page.params.get(name, "")
    if not isinstance(raw, str) or not (raw.isascii() and raw.isdigit()):
        return 0
    if len(raw) > MAX_ID_DIGITS:
        return 0
    return int(raw)


def route_word(state: BaseState, name: str, allowed: Iterable[str]) -> str:
    """The route's `[name]` segment when it is one of `allowed` words; "" otherwise."""
    raw = state.rx_router_page.params.get(name, "")
    return raw if isinstance(raw, str) and raw in set(allowed) else ""
