"""Human or machine: which opens and clicks a person made, and which a proxy or scanner made.

Since Apple Mail Privacy Protection most opens are the proxy fetching the pixel, and security
gateways follow every link of a message to scan it. An open or click is *machine* when

1. its user agent is a known prefetching proxy, link scanner or bot (`classify_user_agent`),
2. it comes within `SEND_WINDOW_S` seconds of the send (no person opens that fast), or
3. (clicks) `BURST_LINKS` distinct links of one message are clicked within `BURST_WINDOW_S`:
   every click of that burst is machine, including the ones stored before the burst was seen.

Only a short reason code is kept (`Reason`), never the user agent. Every threshold is here.

Gmail's and Yahoo's image proxies are *not* machine by their user agent alone: they fetch the
pixel when the reader opens the message (a Gmail web open always arrives through
GoogleImageProxy), so they count as human unless rule 2 catches a fetch at delivery time.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence
from datetime import datetime
from enum import StrEnum

SEND_WINDOW_S = 10.0  # an open or click this soon after the send is a machine's
BURST_WINDOW_S = 10.0  # clicks on BURST_LINKS distinct links within this many seconds...
BURST_LINKS = 3  # ...are a link scanner following every link of the message
MAX_USER_AGENT = 512  # only the start of a user agent is read


class Reason(StrEnum):
    """Why an event is machine (`Event.machine_reason`; "" for a human event)."""

    APPLE_MPP = "apple_mpp"  # Apple Mail Privacy Protection's prefetch
    SCANNER = "scanner"  # a mail security gateway's link or image scanner
    BOT = "bot"  # crawlers, headless browsers, HTTP libraries
    NO_USER_AGENT = "no_ua"  # no user agent at all: no mail client sends none
    AT_SEND = "at_send"  # within SEND_WINDOW_S of the send
    LINK_BURST = "link_burst"  # BURST_LINKS distinct links within BURST_WINDOW_S


REASONS = frozenset(r.value for r in Reason)

# Apple's proxy sends a bare "Mozilla/5.0"; Apple Mail itself (iPhone, Mac) sends a full one.
_APPLE_MPP = re.compile(r"^\s*Mozilla/5\.0\s*$")
_SCANNERS = re.compile(
    r"barracuda|mimecast|proofpoint|ppops-|symantec|broadcom|messagelabs|ironport|"
    r"cisco.?(email|secure)|trend.?micro|\btmurl|safe.?links|microsoft.?defender|"
    r"bingpreview|office existence discovery|forcepoint|sophos|fortiguard|zscaler|"
    r"checkpoint|\bavanan|abnormal.?security",
    re.IGNORECASE,
)
_BOTS = re.compile(
    r"bot\b|bot/|crawler|spider|scanner|headless|phantomjs|slurp|\bcurl/|\bwget/|"
    r"python-requests|python-urllib|python-httpx|aiohttp|go-http-client|\bjava/|okhttp|"
    r"libwww|node-fetch|axios/|httpclient|facebookexternalhit|preview",
    re.IGNORECASE,
)


def classify_user_agent(user_agent: str | None) -> str:
    """The `Reason` a user agent alone gives ("" when it looks like a person's mail client)."""
    ua = (user_agent or "")[:MAX_USER_AGENT]
    if not ua.strip():
        return Reason.NO_USER_AGENT.value
    if _APPLE_MPP.match(ua):
        return Reason.APPLE_MPP.value
    if _SCANNERS.search(ua):
        return Reason.SCANNER.value
    if _BOTS.search(ua):
        return Reason.BOT.value
    return ""


def valid_reason(reason: object) -> str:
    """A known reason code, or "" (codes come back from the Redis buffer)."""
    return reason if isinstance(reason, str) and reason in REASONS else ""


def at_send(sent_at: datetime | None, at: datetime) -> bool:
    """Within SEND_WINDOW_S after the send (a little before it too: clocks of two hosts)."""
    if sent_at is None:
        return False
    return -SEND_WINDOW_S <= (at - sent_at).total_seconds() <= SEND_WINDOW_S


def burst_members(clicks: Sequence[tuple[Hashable, datetime, str]]) -> set[Hashable]:
    """Keys of one message's clicks that belong to a link burst; clicks are (key, time, url).

    A click belongs to a burst when some window of BURST_WINDOW_S seconds holds it and clicks on
    at least BURST_LINKS distinct links.
    """
    ordered = sorted(clicks, key=lambda c: c[1])
    flagged: set[Hashable] = set()
    for i, (_, start, _) in enumerate(ordered):
        window = [c for c in ordered[i:] if (c[1] - start).total_seconds() <= BURST_WINDOW_S]
        if len({url for _, _, url in window}) >= BURST_LINKS:
            flagged.update(key for key, _, _ in window)
    return flagged
