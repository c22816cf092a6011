"""Revenue at the counter: amounts typed by staff, corrected by an admin, and a campaign's
revenue, message cost and return (issue 16, item 1)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlmodel import Session

from marketing_ui.core import app_settings, audit, check_in, coupons, money, visits
from marketing_ui.core.analytics import export, parse_filters, revenue
from marketing_ui.core.automations import reports as automation_reports
from marketing_ui.core.models import (
    AuditEntry,
    Campaign,
    Customer,
    Delivery,
    DeliveryStatus,
    Redemption,
    Role,
    User,
    Visit,
)

# Amount parsing ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "minor"),
    [
        ("12.50", 1250),
        ("12,50", 1250),
        ("$12.50", 1250),
        (" $ 12.5 ", 1250),
        ("1,234.50", 123450),
        ("1.234,50", 123450),
        ("1 234,50", 123450),
        ("1,234", 123400),
        ("USD 7", 700),
        ("0", 0),
        ("", None),
        ("   ", None),
    ],
)
def test_amounts_people_type_at_a_till(typed: str, minor: int | None) -> None:
    assert money.parse_amount(typed, "USD", 1_000_000) == minor


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("-5", "cannot be negative"),
        ("$-5", "cannot be negative"),
        ("(5.00)", "cannot be negative"),
        ("−5", "cannot be negative"),
        ("abc", "expected an amount"),
        ("1e3", "expected an amount"),
        ("NaN", "expected an amount"),
        ("Infinity", "expected an amount"),
        ("12.5.0", "expected an amount"),
        ("12,34,5", "expected an amount"),
        ("0x10", "expected an amount"),
        ("12 €", "expected an amount"),  # another currency's symbol
        ("12.505", "at most 2 decimals"),
        ("0.001", "at most 2 decimals"),
        ("10000.01", "more than the largest ticket"),
        ("9" * 40, "too long"),
        ("<script>", "expected an amount"),
    ],
)
def test_hostile_amounts_are_refused_naming_the_field(typed: str, says: str) -> None:
    with pytest.raises(money.AmountError) as caught:
        money.parse_amount(typed, "USD", 1_000_000)
    assert str(caught.value).startswith("Ticket amount:")
    assert says in str(caught.value)


def test_currencies_without_minor_units() -> None:
    assert money.parse_amount("1,500", "JPY") == 1500
    with pytest.raises(money.AmountError, match="no decimals"):
        money.parse_amount("15.5", "JPY")
    assert money.format_minor(1500, "JPY") == "¥1,500"
    assert money.format_minor(123450, "USD") == "$1,234.50"
    assert money.format_minor(1250, "SEK") == "12.50 kr"


# Settings ---------------------------------------------------------------------------------


def test_money_settings_defaults_and_save(session: Session) -> None:
    value = app_settings.money_settings(session)
    assert (value.currency, value.sms_price, value.email_price_value) == (
        "USD",
        Decimal("0.0079"),
        Decimal("0.0004"),
    )
    assert value.max_ticket_minor == 1_000_000
    saved = app_settings.update_money_settings(
        session,
        {"currency": "eur", "sms_segment_price": "0,0085", "max_ticket": "5,000"},
    )
    assert (saved.currency, saved.sms_segment_price, saved.max_ticket) == ("EUR", "0.0085", "5000")
    assert app_settings.money_settings(session).email_price == "0.0004"  # untouched field kept
    actions = session.execute(select(AuditEntry.action)).scalars().all()
    assert "settings.money" in actions


@pytest.mark.parametrize(
    ("form", "label"),
    [
        ({"currency": "XYZ"}, "Currency:"),
        ({"currency": ""}, "Currency:"),
        ({"sms_segment_price": "-0.01"}, "Price per SMS segment:"),
        ({"sms_segment_price": "nan"}, "Price per SMS segment:"),
        ({"email_price": "0.00000001"}, "Price per email:"),
        ({"email_price": "11"}, "Price per email:"),
        ({"max_ticket": "0"}, "Largest ticket amount:"),
        ({"max_ticket": "-10"}, "Largest ticket amount:"),
        ({"max_ticket": "2000000000"}, "Largest ticket amount:"),
        ({"currency": "JPY", "max_ticket": "10.5"}, "Largest ticket amount:"),
    ],
)
def test_money_settings_refused_naming_the_field(
    session: Session, form: dict[str, str], label: str
) -> None:
    before = app_settings.money_settings(session)
    with pytest.raises(app_settings.SettingsError) as caught:
        app_settings.update_money_settings(session, form)
    assert label in str(caught.value)
    assert app_settings.money_settings(session) == before  # nothing stored


# Redeem, check in, correct --------------------------------------------------------------


def _user(session: Session, name: str, role: Role) -> User:
    user = User(username=name, password_hash="x", role=role)
    session.add(user)
    session.commit()
    return user


def _campaign(
    session: Session, emails: int, sms_segments: list[int], automation_id: int | None = None
) -> tuple[Campaign, list[int]]:
    """A sent QR campaign: `emails` email deliveries, one SMS delivery per segment count;
    returns it and its coupon ids (email deliveries first)."""
    campaign = Campaign(
        name="Monday special",
        channel="both",
        has_qr_code=True,
        offer_text="Free dessert",
        status="sent",
        automation_id=automation_id,
    )
    session.add(campaign)
    session.flush()
    rows = [("email", None)] * emails + [("sms", n) for n in sms_segments]
    deliveries = []
    for i, (channel, _) in enumerate(rows):
        customer = Customer(first_name=f"C{i}")
        session.add(customer)
        session.flush()
        d = Delivery(campaign_id=campaign.id, customer_id=customer.id, channel=channel)
        session.add(d)
        deliveries.append(d)
    session.flush()
    coupons.issue_coupons(session, campaign.id)
    for d, (_, segments) in zip(deliveries, rows, strict=True):
        d.status, d.segments = DeliveryStatus.SENT, segments
    session.commit()
    ids = [
        session.execute(
            select(coupons.Coupon.id).where(coupons.Coupon.delivery_id == d.id)
        ).scalar_one()
        for d in deliveries
    ]
    return campaign, ids


def test_redeem_with_an_amount_keeps_it_on_redemption_and_visit(session: Session) -> None:
    staff = _user(session, "counter", Role.STAFF)
    _, (first, second) = _campaign(session, emails=2, sms_segments=[])
    amount = visits.ticket_amount(session, "$12.50")
    outcome = coupons.redeem(session, first, staff, amount)
    assert outcome.result == coupons.RedeemResult.OK
    assert outcome.coupon is not None and str(outcome.coupon.amount) == "$12.50"
    visit = session.execute(select(Visit).where(Visit.coupon_id == first)).scalar_one()
    assert (visit.amount_minor, visit.currency) == (1250, "USD")
    row = session.execute(select(Redemption).where(Redemption.coupon_id == first)).scalar_one()
    assert (row.amount_minor, row.currency) == (1250, "USD")
    # Without an amount: redeemed all the same, amount NULL.
    assert coupons.redeem(session, second, staff).result == coupons.RedeemResult.OK
    visit = session.execute(select(Visit).where(Visit.coupon_id == second)).scalar_one()
    assert visit.amount_minor is None


def test_ticket_amount_uses_the_settings(session: Session) -> None:
    app_settings.update_money_settings(session, {"currency": "EUR", "max_ticket": "100"})
    assert visits.ticket_amount(session, "12,50 €") == money.Amount(1250, "EUR")
    with pytest.raises(money.AmountError, match="largest ticket allowed"):
        visits.ticket_amount(session, "100.01")


def test_check_in_with_an_amount(session: Session) -> None:
    staff = _user(session, "counter", Role.STAFF)
    customer = Customer(first_name="Ada")
    session.add(customer)
    session.commit()
    card = check_in.check_in(session, customer.id, staff, money.Amount(4200, "USD"))
    assert card is not None and card.visit_count == 1
    visit = session.execute(select(Visit).where(Visit.customer_id == customer.id)).scalar_one()
    assert (visit.amount_minor, visit.currency, visit.coupon_id) == (4200, "USD", None)


def test_admin_corrects_an_amount_and_the_audit_log_says_old_and_new(session: Session) -> None:
    staff = _user(session, "counter", Role.STAFF)
    admin = _user(session, "owner", Role.ADMIN)
    _, (cid, unredeemed) = _campaign(session, emails=2, sms_segments=[])
    coupons.redeem(session, cid, staff, money.Amount(1250, "USD"))

    refused = coupons.correct_amount(session, cid, staff, money.Amount(1, "USD"))
    assert refused.result == coupons.UndoResult.FORBIDDEN
    not_redeemed = coupons.correct_amount(session, unredeemed, admin, money.Amount(1, "USD"))
    assert not_redeemed.result == coupons.UndoResult.NOT_REDEEMED

    with audit.acting_as(audit.Actor(admin.id, admin.username)):
        outcome = coupons.correct_amount(session, cid, admin, money.Amount(2150, "USD"))
    assert outcome.result == coupons.UndoResult.OK
    assert outcome.coupon is not None and str(outcome.coupon.amount) == "$21.50"
    entry = session.execute(
        select(AuditEntry).where(AuditEntry.action == "coupon.amount")
    ).scalar_one()
    assert (entry.actor, entry.object_id) == ("owner", str(cid))
    assert entry.summary == "ticket amount $12.50 -> $21.50"
    row = session.execute(select(Redemption).where(Redemption.coupon_id == cid)).scalar_one()
    assert row.amount_minor == 2150

    cleared = coupons.correct_amount(session, cid, admin, None)
    assert cleared.coupon is not None and cleared.coupon.amount is None
    summaries = session.execute(
        select(AuditEntry.summary).where(AuditEntry.action == "coupon.amount")
    ).scalars()
    assert "ticket amount $21.50 -> none" in list(summaries)


# Revenue, cost, return ------------------------------------------------------------------


def test_revenue_cost_and_return_of_a_seeded_campaign(session: Session) -> None:
    """3 emails and 3 texts of 1, 2 and 3 segments; three redemptions, two with amounts, one
    check-in with an amount that is not attributed."""
    staff = _user(session, "counter", Role.STAFF)
    campaign, ids = _campaign(session, emails=3, sms_segments=[1, 2, 3])
    coupons.redeem(session, ids[0], staff, money.Amount(2000, "USD"))
    coupons.redeem(session, ids[3], staff, money.Amount(1050, "USD"))
    coupons.redeem(session, ids[4], staff)  # no amount typed
    coupons.redeem(session, ids[5], staff, money.Amount(999, "EUR"))  # another currency
    check_in.check_in(session, 1, staff, money.Amount(5000, "USD"))  # a visit: not attributed

    e = revenue.campaign_earnings(session, campaign.id)
    c = e.counts
    assert (c.redemptions, c.with_amount, c.revenue_minor) == (4, 2, 3050)
    assert c.other_currency == 1  # the EUR ticket: counted as a redemption, said apart
    assert (c.recipients, c.emails, c.sms_segments) == (6, 3, 6)
    assert e.revenue == Decimal("30.50")
    assert e.cost == Decimal("6") * Decimal("0.0079") + Decimal("3") * Decimal("0.0004")
    assert e.cost == Decimal("0.0486")
    assert e.revenue_per_recipient == Decimal("30.50") / 6
    assert e.return_ratio == (Decimal("30.50") - Decimal("0.0486")) / Decimal("0.0486")
    shown = e.shown()
    assert shown["revenue"] == "$30.50" and shown["cost"] == "$0.0486"
    assert shown["return"] == "62657.2%"
    assert shown["other_currency"] == " (1 in another currency, not counted)"

    sms_only = revenue.campaign_earnings(session, campaign.id, "sms")
    assert (sms_only.counts.redemptions, sms_only.counts.revenue_minor) == (3, 1050)
    assert (sms_only.counts.emails, sms_only.counts.sms_segments) == (0, 6)

    # The owner's prices change the cost, not the counts.
    app_settings.update_money_settings(session, {"sms_segment_price": "0.01", "email_price": "0"})
    assert revenue.campaign_earnings(session, campaign.id).cost == Decimal("0.06")

    columns, rows = export.export_table(session, "revenue", parse_filters(), campaign.id)
    assert columns[:3] == ["currency", "redemptions", "with_amount"]
    assert rows == [["USD", 4, 2, 6, 3, 6, "30.50", "5.0833", "0.0600", "507.3333"]]


def test_nothing_sent_means_no_return(session: Session) -> None:
    campaign = Campaign(name="draft", status="draft")
    session.add(campaign)
    session.commit()
    e = revenue.campaign_earnings(session, campaign.id)
    assert e.counts == revenue.MoneyCounts()
    assert e.return_ratio is None and e.revenue_per_recipient is None
    assert e.shown()["return"] == "–" and e.shown()["other_currency"] == ""


def test_automation_weeks_carry_revenue(session: Session) -> None:
    from marketing_ui.core.automations import config

    config.ensure_defaults(session)
    welcome = config.get(session, "welcome")
    staff = _user(session, "counter", Role.STAFF)
    batch, ids = _campaign(session, emails=1, sms_segments=[2], automation_id=welcome.id)
    batch.sent_at = batch.created_at
    session.add(batch)
    session.commit()
    coupons.redeem(session, ids[1], staff, money.Amount(4000, "USD"))
    rows = automation_reports.weekly(session, welcome.id, weeks=1)
    counts = rows[-1].counts
    assert counts.money.revenue_minor == 4000 and counts.money.sms_segments == 2
    e = automation_reports.earnings(session, counts)
    assert e.cost == Decimal("2") * Decimal("0.0079") + Decimal("0.0004")
    text = automation_reports.weekly_csv(session, rows)
    assert text.splitlines()[-1].endswith(",40.00,20.0000,0.0162,2468.1358")
