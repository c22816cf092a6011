"""A seeded simulation of one email campaign's pixel and link hits, people and machines mixed.

Assumptions (what the generator does; change them here and the test re-measures):
- Every recipient's message is delivered; the send is spread over two minutes.
- Mailboxes: 45% Apple Mail with Mail Privacy Protection (MPP), 25% Gmail web, 30% other
  clients (iPhone Mail without MPP, Outlook desktop, Android, Thunderbird). Independently, 12%
  sit behind a corporate security gateway.
- A person truly opens with probability `human_share` (drawn per seed, 15-45%), minutes to days
  after delivery (log-normal, median 3 h); 0.5% of openers open within 3-10 s of delivery (these
  are expected false machine flags). 30% of openers open again later. 35% of openers click 1-2
  links, tens of seconds to minutes apart; 5% of clickers open three links at once in tabs.
- MPP: Apple's proxy fetches the pixel once, seconds to hours after delivery, with the bare
  "Mozilla/5.0" agent, whether or not the person reads it; when they do read it the pixel is
  served from Apple's cache, and 30% of the time fetched again through the proxy (same agent).
  So a person behind MPP is never visible as a person: no tracker can see them. The truth the
  reported rate is held to is therefore the share of recipients whose own open could reach the
  pixel (`observable_share`); `true_share` (all readers) is recorded beside it.
- Gmail: Google's image proxy fetches when the person opens (GoogleImageProxy agent); for 5% of
  Gmail recipients Google also fetches at delivery (0-5 s).
- Security gateways fetch the pixel and follow all four links 1-8 s after delivery (20% of them,
  busy ones, 15-90 s after); 60% say who they are (Mimecast, Proofpoint, Barracuda...), 40% use
  an ordinary Chrome agent and are caught only by time: at the send, or the link burst for
  clicks. A slow gateway with a Chrome agent therefore passes its *open* as a person's (about
  1% of recipients: the expected error). Their people then open and click normally.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from marketing_ui.core.engagement import classify_user_agent
from marketing_ui.core.events import encode_tracking_event

LINKS = [f"https://bistro.example/{p}" for p in ("menu", "book", "offer", "map")]
MPP = "Mozilla/5.0"
GMAIL = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
OTHER = [
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Mobile/15E148",
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 Thunderbird/115.10.1",
]
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
SCANNERS = [
    "Mimecast URL Protect",
    "Proofpoint URL Defense",
    "Mozilla/5.0 (compatible; Barracuda Sentinel (EE))",
    "Trend Micro Email Security",
]

P_MPP, P_GMAIL, P_GATEWAY = 0.45, 0.25, 0.12


@dataclass
class Hit:
    kind: str  # "o" or "c"
    delivery_id: int
    at: datetime
    agent: str
    url: str = ""

    def encoded(self) -> bytes:
        """As the tracking endpoint buffers it: the reason its agent gives, never the agent."""
        reason = classify_user_agent(self.agent)
        return encode_tracking_event(
            self.kind, self.delivery_id, self.url, reason, self.at.timestamp()
        )


@dataclass
class Simulated:
    hits: list[Hit] = field(default_factory=list)
    readers: int = 0  # people who opened
    visible_readers: int = 0  # people who opened where the pixel can see them (not MPP)
    machine_opened: int = 0  # recipients whose pixel a machine fetched
    clickers: int = 0  # people who clicked (MPP hides no click: links open in a browser)


def simulate(seed: int, deliveries: list[tuple[int, datetime]], human_share: float) -> Simulated:
    rng = random.Random(seed)
    out = Simulated()
    for delivery_id, sent_at in deliveries:
        box = rng.random()
        mpp, gmail = box < P_MPP, P_MPP <= box < P_MPP + P_GMAIL
        agent = MPP if mpp else GMAIL if gmail else rng.choice(OTHER)
        machine = False
        if mpp:
            delay = timedelta(seconds=min(rng.lognormvariate(4, 2.5), 3 * 86400))
            out.hits.append(Hit("o", delivery_id, sent_at + delay, MPP))
            machine = True
        if gmail and rng.random() < 0.05:
            out.hits.append(
                Hit("o", delivery_id, sent_at + timedelta(seconds=rng.uniform(0, 5)), GMAIL)
            )
            machine = True
        if rng.random() < P_GATEWAY:
            scanner = rng.choice(SCANNERS) if rng.random() < 0.6 else CHROME
            slow = rng.random() < 0.2  # a busy gateway scans after the send window
            start = sent_at + timedelta(seconds=rng.uniform(15, 90) if slow else rng.uniform(1, 5))
            out.hits.append(Hit("o", delivery_id, start, scanner))
            for i, url in enumerate(LINKS):
                out.hits.append(
                    Hit(
                        "c",
                        delivery_id,
                        start + timedelta(seconds=0.5 + i * rng.uniform(0.2, 1)),
                        scanner,
                        url,
                    )
                )
            machine = True
        out.machine_opened += machine
        if rng.random() >= human_share:
            continue
        out.readers += 1
        out.visible_readers += not mpp
        if rng.random() < 0.005:
            read_at = sent_at + timedelta(seconds=rng.uniform(3, 10))
        else:
            read_at = sent_at + timedelta(minutes=min(rng.lognormvariate(5.2, 1.5), 7 * 1440))
        opens = [read_at]
        if rng.random() < 0.3:
            opens.append(read_at + timedelta(hours=rng.uniform(1, 48)))
        for at in opens:
            if not mpp:
                out.hits.append(Hit("o", delivery_id, at, agent))
            elif rng.random() < 0.3:
                out.hits.append(Hit("o", delivery_id, at, MPP))
        if rng.random() < 0.35:
            out.clickers += 1
            at = read_at + timedelta(seconds=rng.uniform(5, 60))
            if rng.random() < 0.05:  # opens three links in tabs at once
                for i, url in enumerate(rng.sample(LINKS, 3)):
                    out.hits.append(
                        Hit("c", delivery_id, at + timedelta(seconds=i * 0.7), CHROME, url)
                    )
            else:
                for url in rng.sample(LINKS, rng.choice((1, 2))):
                    out.hits.append(Hit("c", delivery_id, at, CHROME, url))
                    at += timedelta(seconds=rng.uniform(20, 300))
    out.hits.sort(key=lambda h: h.at)
    return out
