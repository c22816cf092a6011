"""Human or machine: the classifier's rules, flags at record time, the retroactive link burst,
and rollups that stay exact when a folded click turns out a scanner's (SQLite and PostgreSQL)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from marketing_ui.core import analytics, engagement, events
from marketing_ui.core.engagement import Reason, burst_members, classify_user_agent
from marketing_ui.core.models import (
    AnalyticsWatermark,
    Campaign,
    CampaignStatHourly,
    CampaignTally,
    Customer,
    Delivery,
    DeliveryFirstEvent,
    Event,
)
from tests.core.engagement_simulation import Simulated, simulate

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
S = timedelta(seconds=1)
H = timedelta(hours=1)

HUMAN_AGENTS = {
    "iPhone Mail": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148",
    "Apple Mail (Mac)": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko)",
    "Gmail web (Google's image proxy fetches when the reader opens)": "Mozilla/5.0 (Windows NT "
    "5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
    "Outlook desktop": "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)",
    "Outlook desktop (older)": "Mozilla/4.0 (compatible; ms-office; MSOffice 16)",
    "Yahoo Mail's proxy": "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html",
    "Chrome on a phone": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like "
    "Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
    "Thunderbird": "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 "
    "Thunderbird/115.10.1",
}
MACHINE_AGENTS = {
    "Mozilla/5.0": Reason.APPLE_MPP,
    "Mozilla/5.0 (compatible; Barracuda Sentinel (EE))": Reason.SCANNER,
    "Mimecast URL Protect": Reason.SCANNER,
    "Proofpoint URL Defense": Reason.SCANNER,
    "Mozilla/5.0 (Windows NT 10.0) Symantec Email Security.cloud": Reason.SCANNER,
    "Cisco IronPort AsyncOS": Reason.SCANNER,
    "Trend Micro Email Security": Reason.SCANNER,
    "Microsoft Defender SafeLinks detonation": Reason.SCANNER,
    "Mozilla/5.0 (compatible; BingPreview/1.0b)": Reason.SCANNER,
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/124.0": Reason.BOT,
    "curl/8.5.0": Reason.BOT,
    "python-requests/2.32.3": Reason.BOT,
    "Go-http-client/1.1": Reason.BOT,
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)": Reason.BOT,
    "": Reason.NO_USER_AGENT,
    "   ": Reason.NO_USER_AGENT,
}


# The classifier's rules ---------------------------------------------------------------------


@pytest.mark.parametrize("client", HUMAN_AGENTS)
def test_a_persons_mail_client_is_not_flagged(client: str) -> None:
    assert classify_user_agent(HUMAN_AGENTS[client]) == ""


@pytest.mark.parametrize("agent", MACHINE_AGENTS)
def test_proxies_scanners_and_bots_are_flagged_with_their_reason(agent: str) -> None:
    assert classify_user_agent(agent) == MACHINE_AGENTS[agent]
    assert classify_user_agent(None if agent == "" else agent) == MACHINE_AGENTS[agent]


def test_at_send_is_a_few_seconds_either_side_of_the_send() -> None:
    window = engagement.SEND_WINDOW_S * S
    assert engagement.at_send(T0, T0 + window)
    assert engagement.at_send(T0, T0 - S)  # the tracking host's clock is a second behind
    assert not engagement.at_send(T0, T0 + window + S)
    assert not engagement.at_send(None, T0)  # never sent (a test send): nothing to compare


def test_a_burst_is_enough_distinct_links_inside_one_window() -> None:
    w = engagement.BURST_WINDOW_S * S
    burst = [(1, T0, "a"), (2, T0 + S, "b"), (3, T0 + w, "c"), (4, T0 + w + S, "a")]
    assert burst_members(burst) == {1, 2, 3, 4}  # 4 shares a window with 2 and 3
    same_link = [(1, T0, "a"), (2, T0 + S, "a"), (3, T0 + 2 * S, "a")]
    assert burst_members(same_link) == set()  # a double click is not a scan
    spread = [(1, T0, "a"), (2, T0 + w, "b"), (3, T0 + 2 * w + S, "c")]
    assert burst_members(spread) == set()  # a reader going through the links one by one


def test_an_unknown_reason_code_from_the_buffer_is_dropped() -> None:
    assert engagement.valid_reason("scanner") == "scanner"
    assert engagement.valid_reason("Mozilla/5.0") == "" and engagement.valid_reason(7) == ""


# Flags at record time ---------------------------------------------------------------------


def _campaign(session: Session, n: int = 1, sent_at: datetime = T0) -> tuple[int, list[int]]:
    campaign = Campaign(name="Monday special", status="sent", sent_at=sent_at)
    session.add(campaign)
    session.flush()
    ids = []
    for i in range(n):
        customer = Customer(first_name=f"C{i}")
        session.add(customer)
        session.flush()
        d = Delivery(campaign_id=campaign.id, customer_id=customer.id, channel="email",
                     status="delivered", sent_at=sent_at)  # fmt: skip
        session.add(d)
        session.flush()
        ids.append(d.id)
    session.commit()
    return campaign.id, ids


def _flags(session: Session, delivery_id: int) -> list[tuple[str, str, bool, str]]:
    rows = session.execute(
        select(Event.type, Event.detail, Event.machine, Event.machine_reason)
        .where(Event.delivery_id == delivery_id)
        .order_by(Event.id)
    )
    return [tuple(r) for r in rows]  # type: ignore[misc]


def _hit(kind: str, delivery_id: int, at: datetime, url: str = "", agent: str = "") -> bytes:
    """A buffered hit as the tracking endpoint makes it (the reason its user agent gives)."""
    reason = classify_user_agent(agent or HUMAN_AGENTS["iPhone Mail"])
    return events.encode_tracking_event(kind, delivery_id, url, reason, at.timestamp())


def test_opens_and_clicks_are_flagged_as_they_are_stored(session: Session) -> None:
    _, (d1, d2) = _campaign(session, 2)
    assert events.record_open(session, d1, at=T0 + 2 * H)  # a reader: human
    assert events.record_open(session, d1, at=T0 + 3 * S)  # at the send
    assert events.record_open(session, d2, at=T0 + H, user_agent_reason="apple_mpp")
    events.write_tracking_items(
        session,
        [
            _hit("c", d2, T0 + 4 * S, "https://x.example/a"),  # a real UA, but at the send
            _hit("o", d2, T0 + 5 * H, agent="Mimecast URL Protect"),
            _hit("o", d2, T0 + 6 * H),
        ],
    )
    session.commit()
    assert _flags(session, d1) == [
        ("opened", "", False, ""),
        ("opened", "", True, "at_send"),
    ]
    assert _flags(session, d2) == [
        ("opened", "", True, "apple_mpp"),
        ("clicked", "https://x.example/a", True, "at_send"),
        ("opened", "", True, "scanner"),
        ("opened", "", False, ""),
    ]


def test_provider_reported_opens_and_clicks_are_classified_by_time(session: Session) -> None:
    _, (d1,) = _campaign(session)
    ref = events.delivery_ref(session, d1)
    events.record_provider_event(session, ref, "opened", provider_event_id="p1", at=T0 + 2 * S)
    events.record_provider_event(session, ref, "opened", provider_event_id="p2", at=T0 + H)
    session.commit()
    assert [f[2:] for f in _flags(session, d1)] == [(True, "at_send"), (False, "")]


# The link burst, retroactively, and rollups that stay exact ---------------------------------


def _rollups(session: Session) -> tuple[list[tuple], list[tuple]]:
    hourly = session.execute(
        select(CampaignStatHourly.campaign_id, CampaignStatHourly.channel, CampaignStatHourly.type,
               CampaignStatHourly.hour, CampaignStatHourly.total, CampaignStatHourly.uniq)
        .where(CampaignStatHourly.type != "delivery_sent")
        .where((CampaignStatHourly.total != 0) | (CampaignStatHourly.uniq != 0))
        .order_by(CampaignStatHourly.type, CampaignStatHourly.hour)
    ).all()  # fmt: skip
    first = session.execute(
        select(
            DeliveryFirstEvent.delivery_id, DeliveryFirstEvent.type, DeliveryFirstEvent.hour
        ).order_by(DeliveryFirstEvent.delivery_id, DeliveryFirstEvent.type)
    ).all()
    return [tuple(r) for r in hourly], [tuple(r) for r in first]


def _rebuilt(session: Session) -> tuple[list[tuple], list[tuple]]:
    """The rollups folded again from scratch (what incremental folding must always equal)."""
    for table in (CampaignStatHourly, DeliveryFirstEvent, CampaignTally, AnalyticsWatermark):
        session.execute(delete(table))
    session.commit()
    analytics.refresh_rollups(session, settle_s=0)
    return _rollups(session)


def _write(session: Session, *hits: bytes) -> None:
    events.write_tracking_items(session, list(hits))
    session.commit()
    analytics.refresh_rollups(session, settle_s=0)  # each batch is folded before the next


def test_a_link_burst_flags_clicks_stored_and_folded_before_it(session: Session) -> None:
    cid, (scanned, reader, tabs) = _campaign(session, 3)
    a, b, c = "https://x.example/a", "https://x.example/b", "https://x.example/c"
    # The scanner's first click arrives in one batch and is folded as a person's...
    _write(session, _hit("c", scanned, T0 + H, a), _hit("c", reader, T0 + H + 2 * S, a))
    f = analytics.campaign_funnel(session, cid).funnel
    assert (f.clicked_unique, f.clicked_total, f.clicked_machine_unique) == (2, 2, 0)
    # ...then its other two links, four seconds later, in the next batch.
    _write(session, _hit("c", scanned, T0 + H + 2 * S, b), _hit("c", scanned, T0 + H + 4 * S, c))
    assert {f[1]: f[2:] for f in _flags(session, scanned)} == {
        url: (True, "link_burst") for url in (a, b, c)
    }
    f = analytics.campaign_funnel(session, cid).funnel
    assert (f.clicked_unique, f.clicked_total) == (1, 1)  # the reader alone
    assert (f.clicked_machine_unique, f.clicked_machine_total) == (1, 3)
    # A reader going through the links one by one, and two links opened at once, stay human.
    _write(session, _hit("c", reader, T0 + 2 * H, b), _hit("c", reader, T0 + 2 * H + 30 * S, c))
    _write(session, _hit("c", tabs, T0 + 3 * H, a), _hit("c", tabs, T0 + 3 * H + S, b))
    assert not any(flag[2] for flag in _flags(session, reader) + _flags(session, tabs))
    incremental = _rollups(session)
    assert incremental == _rebuilt(session)


def test_a_burst_moves_the_first_human_click_to_the_readers_own(session: Session) -> None:
    """The flagged click was the first human one: the unique moves to the reader's later click."""
    cid, (d,) = _campaign(session)
    a, b, c = "https://x.example/a", "https://x.example/b", "https://x.example/c"
    _write(session, _hit("c", d, T0 + H, a), _hit("c", d, T0 + 5 * H, a))  # scan, then a reader
    _write(session, _hit("c", d, T0 + H + S, b), _hit("c", d, T0 + H + 2 * S, c))
    hourly = analytics.campaign_hourly(session, cid)
    by_hour = {p.hours_since_send: (p.clicks, p.machine_clicks) for p in hourly}
    assert by_hour[1] == (0, 3) and by_hour[5] == (1, 0)
    f = analytics.campaign_funnel(session, cid).funnel
    assert (f.clicked_unique, f.clicked_machine_unique) == (1, 0)  # a reader who also got scanned
    mine = analytics.campaign_funnel(session, cid, include_machine=True).funnel
    assert (mine.clicked_unique, mine.clicked_total, mine.clicked_human_unique) == (1, 4, 1)
    incremental = _rollups(session)
    assert incremental == _rebuilt(session)


def test_a_whole_burst_in_one_batch_is_flagged_before_it_is_folded(session: Session) -> None:
    cid, (d,) = _campaign(session)
    _write(session, *[_hit("c", d, T0 + H + i * S, f"https://x.example/{i}") for i in range(4)])
    f = analytics.campaign_funnel(session, cid).funnel
    assert (f.clicked_unique, f.clicked_machine_unique, f.clicked_machine_total) == (0, 1, 4)
    links = analytics.top_links(session, cid)
    assert [(x.clicks, x.unique_clicks, x.machine_clicks) for x in links] == [(0, 0, 1)] * 4
    incremental = _rollups(session)
    assert incremental == _rebuilt(session)


# The simulation: the reported human open rate against the truth ------------------------------

SEEDS = (1, 2, 3, 4, 5)
RECIPIENTS = 1500
BATCH = 400  # hits per buffered write, folded between writes as a busy dashboard would


def _simulated_campaign(session: Session, seed: int) -> tuple[int, Simulated, float]:
    rng = random.Random(seed)
    human_share = rng.uniform(0.15, 0.45)
    campaign = Campaign(name=f"Simulated {seed}", status="sent", sent_at=T0)
    session.add(campaign)
    session.flush()
    customers = [Customer(first_name=f"S{i}") for i in range(RECIPIENTS)]
    session.add_all(customers)
    session.flush()
    deliveries = [
        Delivery(campaign_id=campaign.id, customer_id=c.id, channel="email", status="delivered",
                 sent_at=T0 + timedelta(seconds=rng.uniform(0, 120)))
        for c in customers
    ]  # fmt: skip
    session.add_all(deliveries)
    session.commit()
    sim = simulate(seed, [(d.id, d.sent_at) for d in deliveries], human_share)
    for start in range(0, len(sim.hits), BATCH):
        events.write_tracking_items(session, [h.encoded() for h in sim.hits[start : start + BATCH]])
        session.commit()
        analytics.refresh_rollups(session, settle_s=0)
    return campaign.id, sim, human_share


@pytest.mark.parametrize("seed", SEEDS)
def test_the_reported_human_open_rate_is_within_two_points_of_the_truth(
    engine: Engine, seed: int
) -> None:
    with Session(engine, expire_on_commit=False) as session:
        cid, sim, human_share = _simulated_campaign(session, seed)
        human = analytics.campaign_funnel(session, cid).funnel
        everything = analytics.campaign_funnel(session, cid, include_machine=True).funnel
    observable = sim.visible_readers / RECIPIENTS
    reported = human.open_rate or 0.0
    print(  # the measured numbers, for docs/analytics.md (pytest -s)
        f"seed {seed}: human share {human_share:.3f} (all readers {sim.readers / RECIPIENTS:.3f}), "
        f"observable {observable:.3f}, reported human {reported:.3f} "
        f"(error {100 * (reported - observable):+.2f} pts), with machine {everything.open_rate:.3f}"
    )
    clicks_truth, clicks = sim.clickers / RECIPIENTS, human.click_rate or 0.0
    print(f"  clicks: truth {clicks_truth:.3f}, reported human {clicks:.3f}, "
          f"with machine {everything.click_rate:.3f}")  # fmt: skip
    assert abs(reported - observable) <= 0.02
    assert abs(clicks - clicks_truth) <= 0.02
    # Counting machine opens as people's is what the flags exist to prevent: far off the truth.
    assert (everything.open_rate or 0.0) - observable > 0.2
    assert human.opened_machine_unique + human.opened_unique == everything.opened_unique
