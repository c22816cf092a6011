"""Analytics numbers checked exactly against a small hand-made data set, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select, update
from sqlmodel import Session

from marketing_ui.core import analytics
from marketing_ui.core.analytics import rollup
from marketing_ui.core.models import (
    OUTBOX_PROVIDER_ID_PREFIX,
    Campaign,
    CampaignStatHourly,
    ConsentEvent,
    Coupon,
    Customer,
    Delivery,
    Event,
    Redemption,
)

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
H = timedelta(hours=1)
URL1 = "https://example.com/menu"
URL2 = "https://example.com/book"
URL3 = "https://example.com/sms-offer"


@dataclass
class Data:
    a: int  # both channels, QR coupons
    b: int  # email only, sent a day later
    d: dict[str, int]  # delivery ids by name


def _customer(session: Session, n: int, created: datetime) -> int:
    c = Customer(first_name=f"C{n}", created_at=created, updated_at=created)
    session.add(c)
    session.flush()
    return c.id


def _delivery(session: Session, campaign_id: int, customer_id: int, channel: str, status: str,
              error: str = "", sent: bool = True) -> int:  # fmt: skip
    d = Delivery(
        campaign_id=campaign_id,
        customer_id=customer_id,
        channel=channel,
        status=status,
        error=error,
        sent_at=T0 if sent else None,
    )
    session.add(d)
    session.flush()
    return d.id


def _coupon(session: Session, campaign_id: int, delivery_id: int, customer_id: int) -> Coupon:
    k = Coupon(
        campaign_id=campaign_id,
        delivery_id=delivery_id,
        customer_id=customer_id,
        token_hash=f"t{delivery_id}",
        short_code_hash=f"s{delivery_id}",
        secret_enc="x",
    )
    session.add(k)
    session.flush()
    return k


def _event(session: Session, campaign_id: int, delivery_id: int, channel: str, typ: str,
           at: datetime, detail: str = "") -> Event:  # fmt: skip
    e = Event(
        campaign_id=campaign_id,
        delivery_id=delivery_id,
        channel=channel,
        type=typ,
        detail=detail,
        created_at=at,
    )
    session.add(e)
    session.flush()
    return e


def _redeem(session: Session, k: Coupon, channel: str, at: datetime) -> Event:
    k.status, k.redeemed_at = "redeemed", at
    session.add(Redemption(coupon_id=k.id, action="redeem", created_at=at))
    return _event(session, k.campaign_id, k.delivery_id, channel, "redeemed", at, f"coupon:{k.id}")


@pytest.fixture
def data(session: Session) -> Data:
    day = timedelta(days=1)
    cust = [_customer(session, n, T0 - (3 - n % 3) * day) for n in range(6)]
    a = Campaign(name="Monday special", channel="both", has_qr_code=True, status="sent", sent_at=T0)
    b = Campaign(name="Wine night", channel="email", status="sent", sent_at=T0 + day)
    draft = Campaign(name="Draft", status="draft")
    session.add_all([a, b, draft])
    session.flush()
    d = {
        "d1": _delivery(session, a.id, cust[1], "email", "delivered"),
        "d2": _delivery(session, a.id, cust[2], "email", "delivered"),
        "d3": _delivery(session, a.id, cust[3], "email", "bounced", "mailbox does not exist"),
        "d4": _delivery(session, a.id, cust[4], "email", "failed", "invalid address", sent=False),
        "d5": _delivery(session, a.id, cust[5], "email", "skipped", "consent withdrawn", False),
        "d6": _delivery(session, a.id, cust[1], "sms", "sent"),
        "d7": _delivery(session, a.id, cust[2], "sms", "delivered"),
    }
    d["d8"] = _delivery(session, b.id, cust[3], "email", "delivered")
    session.get(Delivery, d["d8"]).sent_at = T0 + day
    e = "email"
    for at in (T0 + H, T0 + 70 * timedelta(minutes=1), T0 + 3 * H, T0 + 10 * day):
        _event(session, a.id, d["d1"], e, "opened", at)  # one reader, four opens
    _event(session, a.id, d["d2"], e, "opened", T0 + 2 * H)
    _event(session, a.id, d["d1"], e, "clicked", T0 + 80 * timedelta(minutes=1), URL1)
    _event(session, a.id, d["d1"], e, "clicked", T0 + 81 * timedelta(minutes=1), URL1)
    _event(session, a.id, d["d2"], e, "clicked", T0 + 125 * timedelta(minutes=1), URL1)
    _event(session, a.id, d["d2"], e, "clicked", T0 + 130 * timedelta(minutes=1), URL2)
    _event(session, a.id, d["d7"], "sms", "clicked", T0 + 5 * H, URL3)
    _event(session, a.id, d["d2"], e, "unsubscribed", T0 + 150 * timedelta(minutes=1))
    _event(session, a.id, d["d1"], e, "complained", T0 + 4 * H)
    _event(session, a.id, d["d3"], e, "bounced", T0 + H, "mailbox does not exist")
    _event(session, b.id, d["d8"], e, "opened", T0 + day + H)
    k1 = _coupon(session, a.id, d["d1"], cust[1])
    k2 = _coupon(session, a.id, d["d2"], cust[2])
    k7 = _coupon(session, a.id, d["d7"], cust[2])
    _redeem(session, k1, e, T0 + 6 * H)
    undone = _redeem(session, k2, e, T0 + 7 * H)
    _redeem(session, k7, "sms", T0 + 30 * H)
    # The undo, as coupons.undo_redemption does it: status back, event deleted, audit row kept.
    k2.status, k2.redeemed_at = "issued", None
    session.add(Redemption(coupon_id=k2.id, action="undo", created_at=T0 + 8 * H))
    session.execute(delete(Event).where(Event.id == undone.id))
    session.add_all(
        [
            ConsentEvent(
                customer_id=cust[1],
                channel="email",
                granted=True,
                source="import",
                created_at=T0 - day,
            ),  # fmt: skip
            ConsentEvent(
                customer_id=cust[2],
                channel="email",
                granted=False,
                source="unsubscribe_link",
                created_at=T0 + 150 * timedelta(minutes=1),
            ),  # fmt: skip
            ConsentEvent(
                customer_id=cust[2], channel="sms", granted=True, source="manual", created_at=T0 + H
            ),  # fmt: skip
        ]
    )
    session.commit()
    analytics.refresh_rollups(session, settle_s=0)
    return Data(a.id, b.id, d)


def test_campaign_funnel_counts_exactly(session: Session, data: Data) -> None:
    report = analytics.campaign_funnel(session, data.a)
    f = report.funnel
    assert (f.targeted, f.sent, f.delivered, f.bounced, f.failed, f.skipped) == (7, 5, 3, 1, 1, 1)
    assert (f.opened_unique, f.opened_total) == (2, 5)
    assert (f.clicked_unique, f.clicked_total) == (3, 5)
    assert (f.complaints, f.unsubscribes) == (1, 1)
    assert (f.coupons_issued, f.redeemed) == (3, 2)  # the undone redemption is not counted
    # Opens are of the 3 emails sent: the 2 SMS could never be opened.
    assert f.open_rate == pytest.approx(2 / 3) and f.redemption_rate == pytest.approx(2 / 3)
    assert f.delivered_rate == pytest.approx(3 / 5) and not f.delivered_note
    # The deliverability guard's measures: hard bounces of sent, complaints of emails sent.
    assert f.hard_bounce_rate == pytest.approx(1 / 5)
    assert f.complaint_rate == pytest.approx(1 / 3)
    assert sorted(report.by_channel) == ["email", "sms"]
    email, sms = report.by_channel["email"], report.by_channel["sms"]
    assert (email.targeted, email.sent, email.delivered, email.clicked_unique) == (5, 3, 2, 2)
    assert (sms.targeted, sms.sent, sms.delivered, sms.clicked_total, sms.redeemed) == (
        2, 2, 1, 1, 1,
    )  # fmt: skip
    assert analytics.channels_sent(report) == ["email", "sms"]
    assert [(r.status, r.reason, r.count) for r in report.failures] == [
        ("failed", "invalid address", 1),
        ("bounced", "mailbox does not exist", 1),
    ] or [(r.status, r.reason, r.count) for r in report.failures] == [
        ("bounced", "mailbox does not exist", 1),
        ("failed", "invalid address", 1),
    ]


def test_filters_by_channel_and_date_range(session: Session, data: Data) -> None:
    sms = analytics.campaign_funnel(session, data.a, channel="sms").funnel
    assert (sms.targeted, sms.sent, sms.opened_total, sms.clicked_unique, sms.redeemed) == (
        2, 2, 0, 1, 1,
    )  # fmt: skip
    first_day = analytics.campaign_funnel(session, data.a, until=T0 + 24 * H).funnel
    assert (first_day.opened_total, first_day.opened_unique) == (4, 2)  # +10 days open left out
    assert first_day.redeemed == 1  # the SMS coupon was redeemed after 30 h
    later = analytics.campaign_funnel(session, data.a, since=T0 + 2 * H).funnel
    assert (later.opened_total, later.opened_unique) == (3, 1)  # d2's first open is at +2h
    assert later.clicked_total == 3 and later.unsubscribes == 1


def test_hourly_series_and_links(session: Session, data: Data) -> None:
    points = analytics.campaign_hourly(session, data.a, until=T0 + 48 * H)
    by_hour = {p.hours_since_send: (p.opens, p.clicks, p.redemptions) for p in points}
    assert points[0].hours_since_send == 0 and points[-1].hours_since_send == 30
    assert by_hour[1] == (2, 2, 0)
    assert by_hour[2] == (1, 2, 0)
    assert by_hour[3] == (1, 0, 0)
    assert by_hour[5] == (0, 1, 0)
    assert by_hour[6] == (0, 0, 1)
    assert by_hour[7] == (0, 0, 0)  # undone
    assert by_hour[30] == (0, 0, 1)
    links = analytics.top_links(session, data.a)
    assert [(x.url, x.clicks, x.unique_clicks) for x in links] == [
        (URL1, 3, 2),
        (URL2, 1, 1),
        (URL3, 1, 1),
    ]
    assert [x.url for x in analytics.top_links(session, data.a, channel="sms")] == [URL3]


def test_top_links_are_recounted_when_a_click_arrives_or_is_reflagged_and_kept_otherwise(
    session: Session, data: Data
) -> None:
    def links(**kw: bool) -> list[tuple[str, int, int, int]]:
        return [
            (x.url, x.clicks, x.unique_clicks, x.machine_clicks)
            for x in analytics.top_links(session, data.a, **kw)
        ]

    first = links()
    assert first == [(URL1, 3, 2, 0), (URL2, 1, 1, 0), (URL3, 1, 1, 0)]
    # Kept while nothing is folded: a rename the app never makes, under the rollup, is not seen.
    renamed = "https://example.com/renamed"
    session.execute(update(Event).where(Event.detail == URL2).values(detail=renamed))
    session.commit()
    assert links() == first
    # A click not folded yet is counted from the raw events at once, and after the fold too.
    click = _event(session, data.a, data.d["d1"], "email", "clicked", T0 + 9 * H, URL1)
    session.commit()
    recounted = [(URL1, 4, 2, 0), (renamed, 1, 1, 0), (URL3, 1, 1, 0)]
    assert links() == recounted
    analytics.refresh_rollups(session, settle_s=0)
    assert links() == recounted
    # Clicks re-flagged machine after the fold (a link burst) leave the people's count.
    d1_clicks = [
        i
        for (i,) in session.execute(
            select(Event.id).where(Event.delivery_id == data.d["d1"], Event.type == "clicked")
        )
    ]
    assert click.id in d1_clicks and len(d1_clicks) == 3
    session.execute(update(Event).where(Event.id.in_(d1_clicks)).values(machine=True))
    rollup.unfold_machine_clicks(session, d1_clicks)
    session.commit()
    assert links()[:2] == [(URL1, 1, 1, 3), (renamed, 1, 1, 0)]
    assert links(include_machine=True)[0] == (URL1, 4, 2, 3)


def test_overview_rows_trend_audience_consent(session: Session, data: Data) -> None:
    ov = analytics.overview(session)
    assert [r.name for r in ov.campaigns] == ["Wine night", "Monday special"]  # drafts left out
    a = ov.campaigns[1].funnel
    assert (a.sent, a.delivered, a.opened_unique, a.clicked_unique, a.unsubscribes) == (
        5, 3, 2, 3, 1,
    )  # fmt: skip
    assert (a.coupons_issued, a.redeemed) == (3, 2)
    assert [(p.day.date().isoformat(), p.sent, p.opens, p.clicks) for p in ov.trend][:2] == [
        ("2026-03-02", 5, 4, 5),
        ("2026-03-03", 1, 1, 0),
    ]
    assert ov.trend[-1].day.date().isoformat() == "2026-03-12" and ov.trend[-1].opens == 1
    assert [(p.new_customers, p.total_customers) for p in ov.audience] == [(2, 2), (2, 4), (2, 6)]
    assert [(p.day.day, p.channel, p.granted, p.withdrawn) for p in ov.consent] == [
        (1, "email", 1, 0),
        (2, "email", 0, 1),
        (2, "sms", 1, 0),
    ]
    later = analytics.overview(session, since=T0 + 12 * H, until=T0 + 48 * H, channel="email")
    assert [r.name for r in later.campaigns] == ["Wine night"]
    assert [(p.sent, p.opens) for p in later.trend] == [(1, 1)]
    assert [(p.new_customers, p.total_customers) for p in later.audience] == []
    assert later.consent == []
    sms_rows = analytics.campaign_rows(session, channel="sms")
    sms_a = [r for r in sms_rows if r.name == "Monday special"][0].funnel
    assert (sms_a.sent, sms_a.opened_unique, sms_a.clicked_unique, sms_a.redeemed) == (2, 0, 1, 1)


def test_rates_that_do_not_apply_are_none_with_a_reason(session: Session) -> None:
    """An SMS-only campaign has no open rate; outbox sends have no delivered rate (not 0%)."""
    people = [_customer(session, n, T0) for n in range(4)]
    texts = Campaign(name="Text blast", channel="sms", status="sent", sent_at=T0)
    outbox = Campaign(name="Dev send", channel="email", status="sent", sent_at=T0)
    session.add_all([texts, outbox])
    session.flush()
    for customer_id in people[:2]:
        _delivery(session, texts.id, customer_id, "sms", "sent")
    for n, customer_id in enumerate(people):
        d = _delivery(session, outbox.id, customer_id, "email", "sent")
        session.get(Delivery, d).provider_message_id = f"{OUTBOX_PROVIDER_ID_PREFIX}{n}"
    _event(session, outbox.id, d, "email", "opened", T0 + H)
    session.commit()
    analytics.refresh_rollups(session, settle_s=0)

    rows = {r.name: r.funnel for r in analytics.campaign_rows(session)}
    reports = {
        name: analytics.campaign_funnel(session, cid).funnel
        for name, cid in (("Text blast", texts.id), ("Dev send", outbox.id))
    }
    for funnels in (rows, reports):
        sms, dev = funnels["Text blast"], funnels["Dev send"]
        assert sms.sent == 2 and sms.open_rate is None and sms.open_note == "SMS has no opens"
        assert sms.delivered_rate == 0.0 and not sms.delivered_note  # a real SMS provider
        assert dev.sent == 4 and dev.delivered_rate is None
        assert dev.delivered_note == "the outbox provider does not report delivery"
        assert dev.open_rate == pytest.approx(1 / 4) and not dev.open_note
    assert analytics.Funnel("email").open_note == ""  # nothing sent yet: nothing to explain


def test_refresh_is_idempotent_and_incremental(session: Session, data: Data) -> None:
    before = session.execute(select(func.sum(CampaignStatHourly.total))).scalar_one()
    again = analytics.refresh_rollups(session, settle_s=0)
    assert again.events_folded == 0
    assert session.execute(select(func.sum(CampaignStatHourly.total))).scalar_one() == before
    # A late event with an earlier time moves d2's first open from hour 2 to hour 0.
    _event(session, data.a, data.d["d2"], "email", "opened", T0 + 30 * timedelta(minutes=1))
    session.commit()
    assert analytics.refresh_rollups(session, settle_s=0).events_folded == 1
    f = analytics.campaign_funnel(session, data.a).funnel
    assert (f.opened_total, f.opened_unique) == (6, 2)
    assert analytics.campaign_funnel(session, data.a, since=T0 + 2 * H).funnel.opened_unique == 0
    assert analytics.campaign_funnel(session, data.a, since=T0 + H).funnel.opened_unique == 1  # d1
    assert analytics.campaign_funnel(session, data.a, until=T0 + H).funnel.opened_unique == 1  # d2


def test_undo_after_refresh_updates_the_overview(session: Session, data: Data) -> None:
    k1 = session.execute(select(Coupon).where(Coupon.delivery_id == data.d["d1"])).scalar_one()
    k1.status, k1.redeemed_at = "issued", None
    session.add(Redemption(coupon_id=k1.id, action="undo", created_at=T0 + 9 * H))
    session.execute(delete(Event).where(Event.detail == f"coupon:{k1.id}"))
    session.commit()
    analytics.refresh_rollups(session, settle_s=0)
    row = [r for r in analytics.campaign_rows(session) if r.campaign_id == data.a][0]
    assert row.funnel.redeemed == 1
    assert analytics.campaign_funnel(session, data.a).funnel.redeemed == 1


def test_settle_window_waits_before_folding(session: Session, data: Data) -> None:
    _event(session, data.a, data.d["d1"], "email", "clicked", T0 + 9 * H, URL2)
    session.commit()
    assert analytics.refresh_rollups(session, settle_s=3600).events_folded == 0
    assert analytics.campaign_funnel(session, data.a).funnel.clicked_total == 5
    assert analytics.refresh_rollups(session, settle_s=0).events_folded == 1
    assert analytics.campaign_funnel(session, data.a).funnel.clicked_total == 6


def test_empty_database(session: Session) -> None:
    analytics.refresh_rollups(session, settle_s=0)
    ov = analytics.overview(session)
    assert (ov.campaigns, ov.trend, ov.audience, ov.consent) == ([], [], [], [])
    assert analytics.campaign_hourly(session, 12345) == []


def _session_token(session: Session, role: str) -> str:
    """A live login session for a new user, as auth.login would leave it."""
    from marketing_ui.core.auth import create_user
    from marketing_ui.core.crypto import random_token, token_hash
    from marketing_ui.core.models import LoginSession

    user = create_user(session, f"{role}-analytics", "a-long-password-1", role=role)
    token = random_token(32)
    session.add(
        LoginSession(
            token_hash=token_hash(token),
            user_id=user.id,
            expires_at=datetime.now(UTC) + timedelta(hours=1),
        )
    )
    session.commit()
    return token


def test_csv_export_is_admin_only_and_matches_the_tables() -> None:
    """The export endpoint serves the same rows as the charts, to admins only."""
    from sqlmodel import SQLModel
    from starlette.testclient import TestClient

    import marketing_ui.api.analytics_export  # noqa: F401 - registers the route
    from marketing_ui.api.app import build_api
    from marketing_ui.core.db import get_engine, session_scope

    SQLModel.metadata.create_all(get_engine())
    with session_scope() as s:
        admin, staff = _session_token(s, "admin"), _session_token(s, "staff")
        campaign = Campaign(name="=HYPERLINK(1)", status="sent", sent_at=T0)
        s.add(campaign)
        s.flush()
        cust = _customer(s, 1, T0)
        did = _delivery(s, campaign.id, cust, "email", "delivered")
        _event(s, campaign.id, did, "email", "clicked", T0 + H, URL1)
        s.commit()
        analytics.refresh_rollups(s, settle_s=0)
        cid = campaign.id
    client = TestClient(build_api())
    assert client.get("/api/analytics/campaigns.csv").status_code == 401
    client.cookies.set("mk_session", staff)
    assert client.get("/api/analytics/campaigns.csv").status_code == 403
    client.cookies.set("mk_session", admin)
    assert client.get("/api/analytics/nope.csv").status_code == 404
    assert client.get("/api/analytics/links.csv?campaign_id=abc").status_code == 400
    resp = client.get("/api/analytics/campaigns.csv?since=junk&channel=<script>")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
    lines = resp.text.splitlines()
    assert lines[0].startswith("campaign_id,name,sent_at,sent")
    ours = [line for line in lines[1:] if line.startswith(f"{cid},")]
    assert len(ours) == 1 and ours[0].startswith(f"{cid},'=HYPERLINK(1),")  # formulas neutralised
    links = client.get(f"/api/analytics/links.csv?campaign_id={cid}&until=2026-03-02").text
    assert links.splitlines() == ["url,clicks,unique_clicks,machine_clicks", f"{URL1},1,1,0"]
    before = client.get(f"/api/analytics/links.csv?campaign_id={cid}&until=2026-03-01").text
    assert before.splitlines() == ["url,clicks,unique_clicks,machine_clicks"]
