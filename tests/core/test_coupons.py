"""Coupons: issued once per delivery, stored without plaintext, redeemed exactly once even under a rush."""

from __future__ import annotations

import csv
import hashlib
import io
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool
from sqlmodel import Session, select

import marketing_ui.core.coupons as coupons
from marketing_ui.core.auth import CurrentUser
from marketing_ui.core.clock import as_utc, utcnow
from marketing_ui.core.config import get_settings, new_key, reset_settings_cache
from marketing_ui.core.coupons import (
    CouponState,
    RedeemResult,
    UndoResult,
    cancel_coupons,
    coupon_page_url,
    export_coupons_csv,
    find_by_short_code,
    find_by_token,
    issue_coupons,
    list_coupons,
    redeem,
    redeem_url,
    secrets_for_deliveries,
    undo_redemption,
    void_unsent_coupons,
)
from marketing_ui.core.crypto import DecryptionError, associated_data, cipher
from marketing_ui.core.customers import CustomerInput, create_customer
from marketing_ui.core.db import is_sqlite
from marketing_ui.core.key_rotation import reencrypt_all
from marketing_ui.core.models import (
    Campaign,
    Coupon,
    CouponStatus,
    Customer,
    Delivery,
    Event,
    EventType,
    Redemption,
    User,
)
from marketing_ui.core.qr import format_short_code, new_short_code


def _campaign(
    session: Session, recipients: int = 3, *, has_qr_code: bool = True, expires_in_days: float = 7
) -> tuple[int, list[int]]:
    """A campaign with frozen email deliveries; returns its id and the delivery ids."""
    campaign = Campaign(
        name="Monday special",
        has_qr_code=has_qr_code,
        offer_text="Free dessert",
        offer_expires_at=utcnow() + timedelta(days=expires_in_days),
    )
    customers = [Customer(first_name=f"Ana{i}") for i in range(recipients)]
    session.add(campaign)
    session.add_all(customers)
    session.flush()
    deliveries = [
        Delivery(campaign_id=campaign.id, customer_id=c.id, channel="email") for c in customers
    ]
    session.add_all(deliveries)
    session.commit()
    return campaign.id, [d.id for d in deliveries]


def _user(session: Session, username: str, role: str, active: bool = True) -> User:
    user = User(username=username, password_hash="x", role=role, active=active)
    session.add(user)
    session.commit()
    return user


def _issued(session: Session, recipients: int = 1, **kwargs: float) -> tuple[int, dict]:
    campaign_id, delivery_ids = _campaign(session, recipients, **kwargs)
    issue_coupons(session, campaign_id)
    session.commit()
    return campaign_id, secrets_for_deliveries(session, delivery_ids)


def _coupon_id(session: Session, token: str) -> int:
    view = find_by_token(session, token)
    assert view is not None
    return view.coupon_id


@pytest.fixture
def staff(session: Session) -> User:
    return _user(session, "counter", "staff")


@pytest.fixture
def admin(session: Session) -> User:
    return _user(session, "owner", "admin")


# Issuing -----------------------------------------------------------------------------


def test_issue_gives_each_delivery_one_coupon_and_is_idempotent(session: Session) -> None:
    campaign_id, delivery_ids = _campaign(session, recipients=5)
    assert issue_coupons(session, campaign_id, delivery_ids[:2]) == 2
    assert issue_coupons(session, campaign_id) == 3
    assert issue_coupons(session, campaign_id) == 0
    assert issue_coupons(session, campaign_id, delivery_ids) == 0
    session.commit()
    rows = session.exec(select(Coupon).where(Coupon.campaign_id == campaign_id)).all()
    assert sorted(c.delivery_id for c in rows) == sorted(delivery_ids)
    assert {c.status for c in rows} == {CouponStatus.ISSUED}
    campaign = session.get(Campaign, campaign_id)
    assert all(as_utc(c.expires_at) == as_utc(campaign.offer_expires_at) for c in rows)


def test_campaign_without_qr_offer_gets_no_coupons(session: Session) -> None:
    campaign_id, _ = _campaign(session, has_qr_code=False)
    assert issue_coupons(session, campaign_id) == 0
    assert session.exec(select(Coupon)).all() == []


def test_delivery_ids_of_another_campaign_are_ignored(session: Session) -> None:
    first_id, _ = _campaign(session, recipients=2)
    _, other_deliveries = _campaign(session, recipients=2)
    assert issue_coupons(session, first_id, other_deliveries) == 0


def test_tokens_and_codes_are_unique_across_campaigns(session: Session) -> None:
    _, first = _issued(session, recipients=20)
    _, second = _issued(session, recipients=20)
    secrets = [*first.values(), *second.values()]
    assert len({s.token for s in secrets}) == len({s.short_code for s in secrets}) == 40


def test_colliding_short_code_is_regenerated(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, existing = _issued(session, recipients=1)
    taken = next(iter(existing.values())).short_code.replace("-", "")
    # The random source repeats an existing code for the first two coupons of the next campaign.
    codes = iter([taken, taken])
    monkeypatch.setattr(coupons, "new_short_code", lambda: next(codes, None) or new_short_code())
    campaign_id, delivery_ids = _campaign(session, recipients=3)
    assert issue_coupons(session, campaign_id) == 3
    session.commit()
    fresh = secrets_for_deliveries(session, delivery_ids)
    assert len(fresh) == 3
    assert "-".join((taken[:4], taken[4:])) not in {s.short_code for s in fresh.values()}


def test_database_holds_no_plaintext_token_or_code(session: Session) -> None:
    _, secrets = _issued(session, recipients=3)
    rows = session.execute(sa.select(Coupon.__table__)).mappings().all()
    stored = [str(value) for row in rows for value in row.values() if value is not None]
    for secret in secrets.values():
        for plaintext in (secret.token, secret.short_code, secret.short_code.replace("-", "")):
            assert not any(plaintext in value for value in stored)
    by_token_hash = {row["token_hash"]: row for row in rows}
    for secret in secrets.values():
        row = by_token_hash[hashlib.sha256(secret.token.encode()).hexdigest()]
        plain_code = secret.short_code.replace("-", "")
        assert row["short_code_hash"] != hashlib.sha256(plain_code.encode()).hexdigest()  # keyed


def test_encrypted_secrets_only_open_in_their_own_row(session: Session) -> None:
    _issued(session, recipients=2)
    first, second = session.exec(select(Coupon)).all()
    token, code = (
        cipher().decrypt(first.secret_enc, associated_data("coupon", "secret", first.uid)).split()
    )
    assert find_by_token(session, token).short_code == format_short_code(code)
    with pytest.raises(DecryptionError):
        cipher().decrypt(first.secret_enc, associated_data("coupon", "secret", second.uid))
    with pytest.raises(DecryptionError):
        cipher().decrypt(first.secret_enc, associated_data("coupon", "token", first.uid))


def test_key_rotation_reencrypts_coupons_without_changing_them(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, before = _issued(session, recipients=3)
    settings = get_settings()
    monkeypatch.setenv("ENCRYPTION_KEYS", f"{settings.encryption_keys},k9:{new_key()}")
    monkeypatch.setenv("ACTIVE_KEY_ID", "k9")
    reset_settings_cache()
    assert reencrypt_all(session)["coupon.secret"] == 3
    stored = session.execute(sa.select(Coupon.secret_enc)).scalars().all()
    assert {value.split(":", 1)[0] for value in stored} == {"k9"}
    assert secrets_for_deliveries(session, list(before)) == before
    assert reencrypt_all(session)["coupon.secret"] == 0  # nothing left under the old key


# Lookup --------------------------------------------------------------------------------


def test_lookup_by_token_and_by_typed_code(session: Session) -> None:
    campaign_id, secrets = _issued(session, recipients=1)
    secret = next(iter(secrets.values()))
    by_token = find_by_token(session, secret.token)
    assert by_token is not None
    assert by_token.state == CouponState.ISSUED
    assert by_token.campaign_id == campaign_id
    assert by_token.short_code == secret.short_code
    assert (by_token.offer_text, by_token.campaign_name) == ("Free dessert", "Monday special")
    assert by_token.customer_first_name == "Ana0"
    assert by_token.expires_at == as_utc(session.get(Campaign, campaign_id).offer_expires_at)
    assert by_token.expires_at is not None and by_token.expires_at.tzinfo is not None
    typed = secret.short_code.lower().replace("-", " ")
    assert find_by_short_code(session, typed) == by_token


def test_unknown_token_or_code_finds_nothing(session: Session, staff: User) -> None:
    _issued(session, recipients=1)
    assert find_by_token(session, "not-a-real-token-at-all") is None
    assert find_by_token(session, "") is None
    assert find_by_token(session, "x" * 10_000) is None
    assert find_by_short_code(session, "2345-6789") is None
    assert find_by_short_code(session, "not a code") is None
    assert redeem(session, 987_654, staff).result == RedeemResult.UNKNOWN


def test_urls_put_the_token_in_the_path() -> None:
    assert redeem_url("tok", "https://shop.example/") == "https://shop.example/redeem/tok"
    assert coupon_page_url("tok", "https://api.shop.example") == "https://api.shop.example/c/tok"


# Redemption -------------------------------------------------------------------------------


def test_redeem_records_audit_row_event_and_customer_activity(
    session: Session, staff: User
) -> None:
    campaign_id, secrets = _issued(session, recipients=1)
    delivery_id, secret = next(iter(secrets.items()))
    coupon_id = _coupon_id(session, secret.token)

    outcome = redeem(session, coupon_id, staff)

    assert outcome.result == RedeemResult.OK
    assert outcome.coupon is not None and outcome.coupon.state == CouponState.REDEEMED
    assert outcome.redeemed_by == "counter"
    audit = session.exec(select(Redemption).where(Redemption.coupon_id == coupon_id)).all()
    assert [(r.action, r.user_id) for r in audit] == [("redeem", staff.id)]
    events = session.exec(select(Event).where(Event.type == EventType.REDEEMED)).all()
    assert [(e.campaign_id, e.delivery_id) for e in events] == [(campaign_id, delivery_id)]
    delivery = session.get(Delivery, delivery_id)
    session.expire_all()
    assert session.get(Customer, delivery.customer_id).last_activity_at is not None


def test_second_redeem_reports_when_and_by_whom(session: Session, staff: User) -> None:
    _, secrets = _issued(session, recipients=1)
    coupon_id = _coupon_id(session, next(iter(secrets.values())).token)
    first = redeem(session, coupon_id, staff)
    again = redeem(session, coupon_id, _user(session, "other", "admin"))
    assert again.result == RedeemResult.ALREADY_REDEEMED
    assert again.redeemed_by == "counter"
    assert again.redeemed_at == first.redeemed_at is not None
    assert session.exec(select(sa.func.count()).select_from(Redemption)).one() == 1


def test_expired_coupon_is_refused_and_stays_issued(session: Session, staff: User) -> None:
    campaign_id, secrets = _issued(session, recipients=1, expires_in_days=-1 / 24)
    coupon_id = _coupon_id(session, next(iter(secrets.values())).token)
    outcome = redeem(session, coupon_id, staff)
    assert outcome.result == RedeemResult.EXPIRED
    assert outcome.coupon is not None and outcome.coupon.state == CouponState.EXPIRED
    assert session.execute(sa.select(Coupon.status)).scalar_one() == CouponStatus.ISSUED
    assert [v.coupon_id for v in list_coupons(session, campaign_id, state="expired")] == [coupon_id]
    assert list_coupons(session, campaign_id, state="issued") == []


def test_cancelled_coupons_are_refused(session: Session, staff: User) -> None:
    campaign_id, secrets = _issued(session, recipients=3)
    coupon_id = _coupon_id(session, next(iter(secrets.values())).token)
    assert redeem(session, coupon_id, staff).result == RedeemResult.OK
    assert cancel_coupons(session, campaign_id) == 2  # the redeemed one keeps its redemption
    session.commit()
    others = [_coupon_id(session, s.token) for s in secrets.values()]
    results = {redeem(session, cid, staff).result for cid in others if cid != coupon_id}
    assert results == {RedeemResult.CANCELLED}


def test_only_coupons_that_never_went_out_are_voided(session: Session) -> None:
    campaign_id, secrets = _issued(session, recipients=3)
    sent, unsent, in_flight = sorted(secrets)
    for delivery_id, status in ((sent, "sent"), (unsent, "cancelled"), (in_flight, "inflight")):
        session.execute(sa.update(Delivery).where(Delivery.id == delivery_id).values(status=status))
    assert void_unsent_coupons(session, campaign_id) == 1
    session.commit()
    states = {d: find_by_token(session, secrets[d].token).state for d in secrets}
    assert states == {sent: "issued", unsent: "cancelled", in_flight: "issued"}
    session.execute(sa.delete(Coupon).where(Coupon.delivery_id.in_([unsent, in_flight])))
    assert issue_coupons(session, campaign_id) == 1  # the one still going out, not the cancelled


@pytest.mark.parametrize(("role", "active"), [("viewer", True), ("staff", False), ("admin", False)])
def test_only_active_staff_and_admins_may_redeem(session: Session, role: str, active: bool) -> None:
    _, secrets = _issued(session, recipients=1)
    coupon_id = _coupon_id(session, next(iter(secrets.values())).token)
    outcome = redeem(session, coupon_id, _user(session, "someone", role, active))
    assert outcome.result == RedeemResult.FORBIDDEN
    assert outcome.coupon is None
    assert session.execute(sa.select(Coupon.status)).scalar_one() == CouponStatus.ISSUED


def test_role_and_active_flag_are_read_from_the_database(session: Session) -> None:
    _, secrets = _issued(session, recipients=2)
    first, second = (_coupon_id(session, s.token) for s in secrets.values())
    clerk = _user(session, "clerk", "staff")
    logged_in = CurrentUser(id=clerk.id, username="clerk", role="admin")  # role claim ignored
    assert undo_redemption(session, first, logged_in).result == UndoResult.FORBIDDEN
    assert redeem(session, first, logged_in).result == RedeemResult.OK
    session.execute(sa.update(User).where(User.id == clerk.id).values(active=False))
    session.commit()
    assert redeem(session, second, logged_in).result == RedeemResult.FORBIDDEN


def test_admin_undo_restores_coupon_and_is_recorded(
    session: Session, staff: User, admin: User
) -> None:
    _, secrets = _issued(session, recipients=1)
    coupon_id = _coupon_id(session, next(iter(secrets.values())).token)
    assert redeem(session, coupon_id, staff).result == RedeemResult.OK

    assert undo_redemption(session, coupon_id, staff, "oops").result == UndoResult.FORBIDDEN
    undone = undo_redemption(session, coupon_id, admin, "  scanned the wrong phone ")

    assert undone.result == UndoResult.OK
    assert undone.coupon is not None and undone.coupon.state == CouponState.ISSUED
    assert undone.coupon.redeemed_at is None and undone.coupon.redeemed_by is None
    audit = session.exec(select(Redemption).order_by(Redemption.id)).all()
    assert [(r.action, r.user_id, r.note) for r in audit] == [
        ("redeem", staff.id, ""),
        ("undo", admin.id, "scanned the wrong phone"),
    ]
    assert session.exec(select(Event).where(Event.type == EventType.REDEEMED)).all() == []
    assert undo_redemption(session, coupon_id, admin).result == UndoResult.NOT_REDEEMED
    assert undo_redemption(session, 987_654, admin).result == UndoResult.UNKNOWN

    assert redeem(session, coupon_id, staff).result == RedeemResult.OK
    assert len(session.exec(select(Event).where(Event.type == EventType.REDEEMED)).all()) == 1


# Listing and export ------------------------------------------------------------------------


def test_list_pages_filters_and_finds_by_code(session: Session, staff: User) -> None:
    campaign_id, secrets = _issued(session, recipients=5)
    views = list_coupons(session, campaign_id, limit=100)
    assert len(views) == 5
    redeemed_id, expired_id = views[0].coupon_id, views[1].coupon_id
    redeem(session, redeemed_id, staff)
    session.execute(
        sa.update(Coupon)
        .where(Coupon.id == expired_id)
        .values(expires_at=utcnow() - timedelta(minutes=1))
    )
    session.commit()

    pages, after = [], None
    while page := list_coupons(session, campaign_id, after_id=after, limit=2):
        pages.append([v.coupon_id for v in page])
        after = page[-1].coupon_id
    assert [len(p) for p in pages] == [2, 2, 1]
    assert sum(pages, []) == [v.coupon_id for v in views]

    def ids(state: str) -> list[int]:
        return [v.coupon_id for v in list_coupons(session, campaign_id, state=state)]

    assert ids("redeemed") == [redeemed_id]
    assert ids("expired") == [expired_id]
    assert len(ids("issued")) == 3
    with pytest.raises(ValueError):
        ids("lost")

    code = views[3].short_code
    assert [v.coupon_id for v in list_coupons(session, campaign_id, search_code=code.lower())] == [
        views[3].coupon_id
    ]
    assert list_coupons(session, campaign_id, search_code="zzzz") == []
    assert {v.short_code for v in views} == {s.short_code for s in secrets.values()}


def test_the_coupon_list_tells_two_customers_with_one_name_apart(session: Session) -> None:
    people = [
        CustomerInput(first_name="Noah", last_name="Kim", email="noah.kim@example.com"),
        CustomerInput(first_name="Noah", last_name="Kim", email="nk@bistro.example"),
        CustomerInput(first_name="Noah", phone="+14155550199"),
        CustomerInput(email="zoe@example.com"),
    ]
    ids = [create_customer(session, person).id for person in people]
    campaign = Campaign(name="Noah night", has_qr_code=True, offer_text="Free dessert")
    session.add(campaign)
    session.flush()
    deliveries = [
        Delivery(campaign_id=campaign.id, customer_id=cid, channel="email") for cid in ids
    ]
    session.add_all(deliveries)
    session.commit()
    issue_coupons(session, campaign.id, [d.id for d in deliveries])

    labels = [v.customer_label for v in list_coupons(session, campaign.id)]

    assert labels == [
        "Noah K. · n***@example.com",
        "Noah K. · n***@bistro.example",
        "Noah · •••0199",
        f"customer #{ids[3]} · z***@example.com",
    ]
    assert len(set(labels)) == len(labels)
    assert not any("noah.kim" in label or "5550199" in label for label in labels)


def test_export_lists_every_coupon_with_code_and_state(session: Session, staff: User) -> None:
    campaign_id, secrets = _issued(session, recipients=4)
    redeemed = _coupon_id(session, next(iter(secrets.values())).token)
    redeem(session, redeemed, staff)
    out = io.StringIO()
    assert export_coupons_csv(session, campaign_id, out) == 4
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert {r["short_code"] for r in rows} == {s.short_code for s in secrets.values()}
    by_id = {int(r["coupon_id"]): r for r in rows}
    assert by_id[redeemed]["state"] == "redeemed"
    assert by_id[redeemed]["redeemed_by"] == "counter" and by_id[redeemed]["redeemed_at"]
    assert Counter(r["state"] for r in rows) == {"issued": 3, "redeemed": 1}


# Concurrency ---------------------------------------------------------------------------------

THREADS = 50


@pytest.fixture
def unpooled(engine: Engine) -> Iterator[Engine]:
    """Same database without a pool cap, so all threads can hold a connection at the barrier."""
    url = engine.url.render_as_string(hide_password=False)
    args = {"check_same_thread": False, "timeout": 30} if is_sqlite(engine) else {}
    wide = sa.create_engine(url, poolclass=NullPool, connect_args=args)
    yield wide
    wide.dispose()


def test_fifty_simultaneous_scans_redeem_exactly_once(
    engine: Engine, session: Session, staff: User, unpooled: Engine
) -> None:
    _, secrets = _issued(session, recipients=1)
    coupon_id = _coupon_id(session, next(iter(secrets.values())).token)
    if is_sqlite(engine):
        with unpooled.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    barrier = threading.Barrier(THREADS)

    def scan(_: int) -> coupons.RedeemOutcome:
        with Session(unpooled, expire_on_commit=False) as own:
            own.connection()  # this thread's own connection, opened before the start signal
            barrier.wait(timeout=60)
            return redeem(own, coupon_id, staff)

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        outcomes = list(pool.map(scan, range(THREADS)))

    counts = Counter(o.result for o in outcomes)
    assert counts == {RedeemResult.OK: 1, RedeemResult.ALREADY_REDEEMED: THREADS - 1}
    winner = next(o for o in outcomes if o.result == RedeemResult.OK)
    assert {(o.redeemed_at, o.redeemed_by) for o in outcomes} == {(winner.redeemed_at, "counter")}
    assert session.exec(select(sa.func.count()).select_from(Redemption)).one() == 1
    events = session.exec(select(Event).where(Event.type == EventType.REDEEMED)).all()
    assert len(events) == 1
