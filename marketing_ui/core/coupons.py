"""Per-recipient QR coupons: issued when the audience freezes, looked up by token or code, redeemed once.

The freeze transaction (sending.start_send) inserts the deliveries and issues every one its
coupon, so no message can be rendered without its coupon and tokens derive from nothing.

The database holds only a SHA-256 of each token, a keyed HMAC (blind index key) of each short
code, and one AES-GCM copy of both, bound to the coupon's uid, for rendering; a leaked
database without the keys yields no usable coupon, and the ~40-bit short codes cannot be
brute-forced offline.

Transactions: `issue_coupons`, `cancel_coupons` and `void_unsent_coupons` are steps of larger
operations (starting or cancelling a send) and leave the commit to the caller. `redeem` and
`undo_redemption` are whole user actions and commit before returning, so their outcome is final.

Visits: a redemption is also the customer's visit (core/visits.py, same transaction); undoing
it removes that visit and recomputes the customer's visit count and last visit.

Analytics: a redemption writes Event(type="redeemed", detail="coupon:<id>"). Undoing it deletes
that event, so every consumer can count "redeemed" events as they are; the Redemption table keeps
both the redeem row and the undo row as the audit trail, so nothing about the undo is lost.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, TextIO

from sqlalchemy import (
    ColumnElement,
    DateTime,
    and_,
    bindparam,
    delete,
    or_,
    select,
    text,
    update,
)
from sqlmodel import Session

from marketing_ui.core import audit, visits
from marketing_ui.core.clock import as_utc, utcnow
from marketing_ui.core.config import get_settings
from marketing_ui.core.crypto import (
    BlindIndexer,
    FieldCipher,
    associated_data,
    blind_indexer,
    cipher,
    token_hash,
)
from marketing_ui.core.csv_safety import neutralise
from marketing_ui.core.customers import decrypt_contact, short_label
from marketing_ui.core.models import (
    Campaign,
    Coupon,
    CouponStatus,
    Customer,
    Delivery,
    DeliveryStatus,
    Event,
    EventType,
    Redemption,
    Role,
    User,
    Visit,
    VisitSource,
)
from marketing_ui.core.money import Amount
from marketing_ui.core.qr import (
    format_short_code,
    new_short_code,
    new_token,
    normalize_short_code,
)

_INSERT_CHUNK = 5000  # rows built and inserted per statement batch during the freeze
_IN_CHUNK = 1000  # ids per IN (...) list, well under SQLite's and PostgreSQL's parameter limits
_MAX_ROUNDS = 6  # each round only retries the rare rows that collided in the last one
_STILL_GOING_OUT = (DeliveryStatus.PENDING.value, DeliveryStatus.INFLIGHT.value)
_MAX_TOKEN_LENGTH = 64  # anything longer is not ours; do not hash attacker-sized input


class CouponState(StrEnum):
    """What staff and customers see: the stored status, with "expired" derived from expires_at."""

    ISSUED = "issued"
    REDEEMED = "redeemed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class RedeemResult(StrEnum):
    OK = "ok"
    ALREADY_REDEEMED = "already_redeemed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"
    FORBIDDEN = "forbidden"


class UndoResult(StrEnum):
    OK = "ok"
    NOT_REDEEMED = "not_redeemed"
    UNKNOWN = "unknown"
    FORBIDDEN = "forbidden"


@dataclass(frozen=True, slots=True)
class CouponSecret:
    """What the renderer puts in a message: the token for the QR/link and the code to type."""

    token: str
    short_code: str  # display form, "ABCD-EFGH"


@dataclass(frozen=True)
class CouponView:
    """A coupon as the redeem screen, the coupon page and the coupon list show it."""

    coupon_id: int
    campaign_id: int
    status: str
    state: CouponState
    short_code: str  # display form, "ABCD-EFGH"
    offer_text: str
    campaign_name: str
    customer_first_name: str
    customer_label: str  # tells customers apart with little PII: "Noah K. · n***@example.com"
    expires_at: datetime | None
    redeemed_at: datetime | None
    redeemed_by: str | None  # username
    amount: Amount | None = None  # the ticket amount recorded with the redemption


@dataclass(frozen=True)
class RedeemOutcome:
    """The result and the coupon as it stands afterwards (None when unknown or forbidden)."""

    result: RedeemResult
    coupon: CouponView | None = None

    @property
    def redeemed_at(self) -> datetime | None:
        return self.coupon.redeemed_at if self.coupon else None

    @property
    def redeemed_by(self) -> str | None:
        return self.coupon.redeemed_by if self.coupon else None


@dataclass(frozen=True)
class UndoOutcome:
    result: UndoResult
    coupon: CouponView | None = None


# URLs ------------------------------------------------------------------------------


def redeem_url(token: str, base_url: str | None = None) -> str:
    """What the QR encodes: staff scan it with a phone camera and land on the redeem screen."""
    base = (base_url if base_url is not None else get_settings().public_base_url).rstrip("/")
    return f"{base}/redeem/{token}"


def coupon_page_url(token: str, api_base_url: str | None = None) -> str:
    """The public page an SMS links to, which shows the QR and the short code."""
    base = (api_base_url if api_base_url is not None else get_settings().api_base_url).rstrip("/")
    return f"{base}/c/{token}"


# Issuing -----------------------------------------------------------------------------


def short_code_hash(code: str, indexer: BlindIndexer | None = None) -> str:
    """Keyed hash of a normalized code: ~40 bits is too few for a plain hash to protect."""
    return (indexer or blind_indexer()).index("coupon_code", code)


def issue_coupons(
    session: Session, campaign_id: int, delivery_ids: Sequence[int] | None = None
) -> int:
    """Give each of the campaign's deliveries still to go out without a coupon a new one.

    Returns how many it issued; deliveries already sent, skipped or cancelled get none.
    Idempotent and safe to run concurrently: rows go in with ON CONFLICT DO NOTHING, and any
    delivery still without a coupon afterwards (a token or short-code collision, however
    unlikely) gets fresh secrets in the next round. Does not commit.
    """
    campaign = session.get(Campaign, campaign_id)
    if campaign is None or not campaign.has_qr_code:
        return 0
    make_row = _row_maker(campaign.id, campaign.offer_expires_at, utcnow())
    insert = _inserter(session)
    created = 0
    pending = _deliveries_without_coupon(session, campaign_id, delivery_ids)
    for _ in range(_MAX_ROUNDS):
        if not pending:
            return created
        inserted = 0
        for chunk in _chunks(pending, _INSERT_CHUNK):
            inserted += insert(
                [make_row(delivery_id, customer_id) for delivery_id, customer_id in chunk]
            )
        created += inserted
        if inserted == len(pending):
            return created  # no collision: no need to look again
        pending = _deliveries_without_coupon(
            session, campaign_id, [delivery_id for delivery_id, _ in pending]
        )
    raise RuntimeError("coupons kept colliding; the random source is broken")


def _deliveries_without_coupon(
    session: Session, campaign_id: int, delivery_ids: Sequence[int] | None
) -> list[tuple[int, int]]:
    query = (
        select(Delivery.id, Delivery.customer_id)
        .outerjoin(Coupon, Coupon.delivery_id == Delivery.id)
        .where(
            Delivery.campaign_id == campaign_id,
            Delivery.status.in_(_STILL_GOING_OUT),
            Coupon.id.is_(None),
        )
        .order_by(Delivery.id)
    )
    if delivery_ids is None:
        return [tuple(row) for row in session.execute(query)]
    found: list[tuple[int, int]] = []
    for chunk in _chunks(sorted(set(delivery_ids)), _IN_CHUNK):
        found.extend(tuple(row) for row in session.execute(query.where(Delivery.id.in_(chunk))))
    return found


# The columns a new coupon row fills, in the order `_row_maker` builds its tuples.
_ROW_COLUMNS = (
    "campaign_id",
    "delivery_id",
    "customer_id",
    "uid",
    "token_hash",
    "short_code_hash",
    "secret_enc",
    "status",
    "expires_at",
    "created_at",
)
_SECRET_SEPARATOR = " "  # in neither alphabet: tokens are URL-safe base64, codes A-Z and 2-9


def _row_maker(
    campaign_id: int, expires_at: datetime | None, now: datetime
) -> Callable[[int, int], tuple[Any, ...]]:
    """A function building one new coupon row as a tuple in `_ROW_COLUMNS` order.

    It runs once per recipient inside the freeze transaction, so it is a closure over
    everything that is the same for every row. One AES-GCM encryption holds both the token
    and the code. The row identity bound into the AAD is not a secret, only unique:
    deriving it from the (unique) delivery id keeps its index append-only.
    """
    fc, indexer = cipher(), blind_indexer()
    encrypt = fc.encrypt
    aad_prefix = associated_data("coupon", "secret", "")
    issued = CouponStatus.ISSUED.value

    def make(delivery_id: int, customer_id: int) -> tuple[Any, ...]:
        uid, token, code = f"{delivery_id:032x}", new_token(), new_short_code()
        return (
            campaign_id,
            delivery_id,
            customer_id,
            uid,
            token_hash(token),
            short_code_hash(code, indexer),
            encrypt(token + _SECRET_SEPARATOR + code, aad_prefix + uid.encode()),
            issued,
            expires_at,
            now,
        )

    return make


def _open_secret(fc: FieldCipher, uid: str, secret_enc: str) -> tuple[str, str]:
    """(token, short code) from a coupon's encrypted secret; only opens in its own row."""
    token, _, code = fc.decrypt(secret_enc, associated_data("coupon", "secret", uid)).partition(
        _SECRET_SEPARATOR
    )
    return token, code


def _inserter(session: Session) -> Callable[[list[tuple[Any, ...]]], int]:
    """Inserts row tuples, skipping rows that hit any unique key; returns how many went in."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return lambda rows: _insert_unnest_postgres(session, rows)
    if dialect != "sqlite":
        raise NotImplementedError(f"coupon issuing supports SQLite and PostgreSQL, not {dialect}")
    return lambda rows: _insert_sqlite(session, rows)


def _insert_sqlite(session: Session, rows: list[tuple[Any, ...]]) -> int:
    # Straight to the driver: per-row SQLAlchemy parameter processing cost more than the
    # insert itself. The two timestamps are the same in every row, so each is converted once
    # with the column type's own processor. sqlite3 sums executemany's row counts.
    conn = session.connection()
    table = Coupon.__table__
    first = rows[0]
    converted = list(first)
    for position, name in enumerate(_ROW_COLUMNS):
        if isinstance(table.c[name].type, DateTime) and first[position] is not None:
            processor = table.c[name].type.bind_processor(conn.dialect)
            converted[position] = processor(first[position]) if processor else first[position]
    expires, created = converted[-2], converted[-1]
    sql = (
        f"INSERT OR IGNORE INTO coupon ({', '.join(_ROW_COLUMNS)}) "
        f"VALUES ({', '.join('?' for _ in _ROW_COLUMNS)})"
    )
    params = [(*row[:-2], expires, created) for row in rows]
    return conn.exec_driver_sql(sql, params).rowcount


# One statement with array parameters: psycopg's executemany is ~3x slower and its rowcount
# is not a total. Columns that are equal for the whole chunk are scalars.
_PG_UNNEST_INSERT = text(
    """
    INSERT INTO coupon (campaign_id, delivery_id, customer_id, uid, token_hash, short_code_hash,
                        secret_enc, status, expires_at, created_at)
    SELECT :campaign_id, t.delivery_id, t.customer_id, t.uid, t.token_hash, t.short_code_hash,
           t.secret_enc, :status, CAST(:expires_at AS timestamptz),
           CAST(:created_at AS timestamptz)
    FROM unnest(CAST(:delivery_id AS bigint[]), CAST(:customer_id AS bigint[]),
                CAST(:uid AS text[]), CAST(:token_hash AS text[]),
                CAST(:short_code_hash AS text[]), CAST(:secret_enc AS text[]))
         AS t(delivery_id, customer_id, uid, token_hash, short_code_hash, secret_enc)
    ON CONFLICT DO NOTHING
    """
)
_PG_SCALAR_COLUMNS = ("campaign_id", "status", "expires_at", "created_at")
_PG_ARRAY_COLUMNS = tuple(name for name in _ROW_COLUMNS if name not in _PG_SCALAR_COLUMNS)


def _insert_unnest_postgres(session: Session, rows: list[tuple[Any, ...]]) -> int:
    columns = dict(zip(_ROW_COLUMNS, zip(*rows, strict=True), strict=True))
    params: dict[str, Any] = {name: list(columns[name]) for name in _PG_ARRAY_COLUMNS}
    for name in _PG_SCALAR_COLUMNS:
        params[name] = columns[name][0]
    return session.execute(_PG_UNNEST_INSERT, params).rowcount


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def secrets_for_deliveries(
    session: Session, delivery_ids: Sequence[int]
) -> dict[int, CouponSecret]:
    """Decrypted token and code per delivery, for the worker that renders the messages."""
    fc = cipher()
    found: dict[int, CouponSecret] = {}
    for chunk in _chunks(sorted(set(delivery_ids)), _IN_CHUNK):
        for delivery_id, uid, secret_enc in session.execute(_SECRETS_QUERY, {"ids": chunk}):
            token, code = _open_secret(fc, uid, secret_enc)
            found[delivery_id] = CouponSecret(token, format_short_code(code))
    return found


# Once per message while sending: a prepared statement costs a third of building the select.
_SECRETS_QUERY = text(
    "SELECT delivery_id, uid, secret_enc FROM coupon WHERE delivery_id IN :ids"
).bindparams(bindparam("ids", expanding=True))


def cancel_coupons(session: Session, campaign_id: int) -> int:
    """Void the campaign's unredeemed coupons (a cancelled campaign's offer no longer holds)."""
    result = session.execute(
        update(Coupon)
        .where(Coupon.campaign_id == campaign_id, Coupon.status == CouponStatus.ISSUED)
        .values(status=CouponStatus.CANCELLED)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def void_unsent_coupons(session: Session, campaign_id: int) -> int:
    """Void the coupons of deliveries that were cancelled before going out. Does not commit.

    Nobody ever received them; coupons already sent stay valid, so cancelling the rest of a
    send never turns a customer away at the counter.
    """
    unsent = select(Delivery.id).where(
        Delivery.campaign_id == campaign_id, Delivery.status == DeliveryStatus.CANCELLED
    )
    result = session.execute(
        update(Coupon)
        .where(
            Coupon.campaign_id == campaign_id,
            Coupon.status == CouponStatus.ISSUED,
            Coupon.delivery_id.in_(unsent),
        )
        .values(status=CouponStatus.CANCELLED)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


# Lookup --------------------------------------------------------------------------------


def _view_query():  # noqa: ANN202 - a Select over a fixed column tuple
    return (
        select(
            Coupon.id,
            Coupon.campaign_id,
            Coupon.uid,
            Coupon.status,
            Coupon.secret_enc,
            Coupon.expires_at,
            Coupon.redeemed_at,
            Campaign.offer_text,
            Campaign.name,
            Customer.first_name,
            User.username,
            Customer.id,
            Customer.uid,
            Customer.last_name,
            Customer.email_enc,
            Customer.phone_enc,
            Visit.amount_minor,
            Visit.currency,
        )
        .join(Campaign, Campaign.id == Coupon.campaign_id)
        .join(Customer, Customer.id == Coupon.customer_id)
        .outerjoin(User, User.id == Coupon.redeemed_by)
        .outerjoin(Visit, Visit.coupon_id == Coupon.id)
    )


def _state(status: str, expires_at: datetime | None, now: datetime) -> CouponState:
    if status == CouponStatus.REDEEMED:
        return CouponState.REDEEMED
    if status == CouponStatus.CANCELLED:
        return CouponState.CANCELLED
    if expires_at is not None and expires_at <= now:
        return CouponState.EXPIRED
    return CouponState.ISSUED


def _to_view(row: Any, fc: FieldCipher, now: datetime) -> CouponView:
    cid, campaign_id, uid, status, secret_enc, expires_at, redeemed_at = row[:7]
    offer_text, campaign_name, first_name, username = row[7:11]
    customer_id, customer_uid, last_name, email_enc, phone_enc, amount_minor, currency = row[11:]
    expires_at = as_utc(expires_at)
    _, code = _open_secret(fc, uid, secret_enc)
    label = short_label(
        first_name,
        last_name,
        decrypt_contact(fc, customer_uid, "email", email_enc),
        decrypt_contact(fc, customer_uid, "phone", phone_enc) if not email_enc else "",
        customer_id,
    )
    return CouponView(
        coupon_id=cid,
        campaign_id=campaign_id,
        status=status,
        state=_state(status, expires_at, now),
        short_code=format_short_code(code),
        offer_text=offer_text,
        campaign_name=campaign_name,
        customer_first_name=first_name,
        customer_label=label,
        expires_at=expires_at,
        redeemed_at=as_utc(redeemed_at),
        redeemed_by=username,
        amount=Amount(amount_minor, currency) if amount_minor is not None and currency else None,
    )


def _find_one(session: Session, condition: ColumnElement[bool]) -> CouponView | None:
    row = session.execute(_view_query().where(condition)).first()
    return _to_view(row, cipher(), utcnow()) if row else None


def get_coupon(session: Session, coupon_id: int) -> CouponView | None:
    return _find_one(session, Coupon.id == coupon_id)


def find_by_token(session: Session, token: str) -> CouponView | None:
    """The coupon a scanned QR or coupon-page link points at."""
    if not token or len(token) > _MAX_TOKEN_LENGTH:
        return None
    return _find_one(session, Coupon.token_hash == token_hash(token))


def find_by_short_code(session: Session, code: str) -> CouponView | None:
    """The coupon for a code typed at the counter, in any case, with or without dash or spaces."""
    normalized = normalize_short_code(code)
    if normalized is None:
        return None
    return _find_one(session, Coupon.short_code_hash == short_code_hash(normalized))


# Redemption ----------------------------------------------------------------------------


def _redeemable(now: datetime) -> ColumnElement[bool]:
    return and_(
        Coupon.status == CouponStatus.ISSUED,
        or_(Coupon.expires_at.is_(None), Coupon.expires_at > now),
    )


class Actor(Protocol):
    """Whoever acts at the counter: a User row or auth's CurrentUser; only the id is trusted."""

    @property
    def id(self) -> int | None: ...


def active_role(session: Session, actor: Actor | None) -> str | None:
    """The actor's role as the database has it now, so a just-deactivated account is refused."""
    if actor is None or actor.id is None:
        return None
    return session.execute(
        select(User.role).where(User.id == actor.id, User.active.is_(True))
    ).scalar_one_or_none()


def redeem(
    session: Session, coupon_id: int, user: Actor, amount: Amount | None = None
) -> RedeemOutcome:
    """Redeem once: a single conditional UPDATE decides, so concurrent scans cannot both win.

    Commits. On success also writes the Redemption audit row and the "redeemed" event, and
    marks the customer active. `amount` is the ticket amount staff typed, if any
    (visits.ticket_amount), kept on the Redemption and the visit.
    """
    if active_role(session, user) not in (Role.ADMIN, Role.STAFF):
        return RedeemOutcome(RedeemResult.FORBIDDEN)
    for _ in range(3):  # only repeats if an admin's undo lands between our UPDATE and SELECT
        now = utcnow()
        claimed = session.execute(
            update(Coupon)
            .where(Coupon.id == coupon_id, _redeemable(now))
            .values(status=CouponStatus.REDEEMED, redeemed_at=now, redeemed_by=user.id)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount == 1:
            break
        session.commit()  # ends the (empty) write transaction before reading the winner's row
        view = get_coupon(session, coupon_id)
        if view is None or view.state != CouponState.ISSUED:
            return RedeemOutcome(_why_not_redeemed(view), view)
    else:
        return RedeemOutcome(RedeemResult.ALREADY_REDEEMED, get_coupon(session, coupon_id))
    campaign_id, delivery_id, customer_id, channel = session.execute(
        select(Coupon.campaign_id, Coupon.delivery_id, Coupon.customer_id, Delivery.channel)
        .join(Delivery, Delivery.id == Coupon.delivery_id)
        .where(Coupon.id == coupon_id)
    ).one()
    session.add(
        Redemption(
            coupon_id=coupon_id,
            user_id=user.id,
            action="redeem",
            amount_minor=amount.minor if amount else None,
            currency=amount.currency if amount else None,
            created_at=now,
        )
    )
    session.add(
        Event(
            campaign_id=campaign_id,
            delivery_id=delivery_id,
            customer_id=customer_id,
            channel=channel,
            type=EventType.REDEEMED,
            detail=_event_detail(coupon_id),
            created_at=now,
        )
    )
    session.execute(
        update(Customer)
        .where(Customer.id == customer_id)
        .values(last_activity_at=now)
        .execution_options(synchronize_session=False)
    )
    visits.record_visit(
        session,
        customer_id,
        VisitSource.REDEMPTION,
        at=now,
        coupon_id=coupon_id,
        user_id=user.id,
        amount=amount,
    )
    session.commit()
    return RedeemOutcome(RedeemResult.OK, get_coupon(session, coupon_id))


def _why_not_redeemed(view: CouponView | None) -> RedeemResult:
    """Why the conditional UPDATE matched nothing, for a coupon no longer in the issued state."""
    if view is None:
        return RedeemResult.UNKNOWN
    if view.state == CouponState.REDEEMED:
        return RedeemResult.ALREADY_REDEEMED
    if view.state == CouponState.CANCELLED:
        return RedeemResult.CANCELLED
    return RedeemResult.EXPIRED


def _event_detail(coupon_id: int) -> str:
    return f"coupon:{coupon_id}"


def undo_redemption(
    session: Session, coupon_id: int, admin_user: Actor, note: str = ""
) -> UndoOutcome:
    """Admin-only correction of a mistaken redemption; recorded as an undo, never erased.

    Commits. Deletes the redemption's analytics event so undone redemptions are not counted.
    """
    if active_role(session, admin_user) != Role.ADMIN:
        return UndoOutcome(UndoResult.FORBIDDEN)
    restored = session.execute(
        update(Coupon)
        .where(Coupon.id == coupon_id, Coupon.status == CouponStatus.REDEEMED)
        .values(status=CouponStatus.ISSUED, redeemed_at=None, redeemed_by=None)
        .execution_options(synchronize_session=False)
    )
    if restored.rowcount != 1:
        session.commit()
        view = get_coupon(session, coupon_id)
        return UndoOutcome(UndoResult.UNKNOWN if view is None else UndoResult.NOT_REDEEMED, view)
    campaign_id = session.execute(
        select(Coupon.campaign_id).where(Coupon.id == coupon_id)
    ).scalar_one()
    session.add(
        Redemption(
            coupon_id=coupon_id, user_id=admin_user.id, action="undo", note=note.strip()[:255]
        )
    )
    session.execute(
        delete(Event)
        .where(
            Event.campaign_id == campaign_id,
            Event.type == EventType.REDEEMED,
            Event.detail == _event_detail(coupon_id),
        )
        .execution_options(synchronize_session=False)
    )
    visits.remove_coupon_visit(session, coupon_id)
    audit.record(session, "coupon.undo_redemption", "coupon", coupon_id)
    session.commit()
    return UndoOutcome(UndoResult.OK, get_coupon(session, coupon_id))


def correct_amount(
    session: Session, coupon_id: int, admin_user: Actor, amount: Amount | None
) -> UndoOutcome:
    """Admin correction of a redemption's ticket amount (None clears it). Commits.

    The visit (what revenue counts) and the redemption row take the new amount; the audit log
    keeps the old and the new value. OK, NOT_REDEEMED, UNKNOWN or FORBIDDEN.
    """
    if active_role(session, admin_user) != Role.ADMIN:
        return UndoOutcome(UndoResult.FORBIDDEN)
    visit = session.execute(
        select(Visit)
        .join(Coupon, Coupon.id == Visit.coupon_id)
        .where(Visit.coupon_id == coupon_id, Coupon.status == CouponStatus.REDEEMED)
        .with_for_update()
    ).scalar_one_or_none()
    if visit is None:
        session.commit()
        view = get_coupon(session, coupon_id)
        return UndoOutcome(UndoResult.UNKNOWN if view is None else UndoResult.NOT_REDEEMED, view)
    old = (
        str(Amount(visit.amount_minor, visit.currency))
        if visit.amount_minor is not None and visit.currency
        else "none"
    )
    values = {
        "amount_minor": amount.minor if amount else None,
        "currency": amount.currency if amount else None,
    }
    session.execute(
        update(Visit)
        .where(Visit.id == visit.id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    latest = (
        select(Redemption.id)
        .where(Redemption.coupon_id == coupon_id, Redemption.action == "redeem")
        .order_by(Redemption.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    session.execute(
        update(Redemption)
        .where(Redemption.id == latest)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    new = str(amount) if amount else "none"
    audit.record(session, "coupon.amount", "coupon", coupon_id, f"ticket amount {old} -> {new}")
    session.commit()
    session.expire_all()
    return UndoOutcome(UndoResult.OK, get_coupon(session, coupon_id))


# Listing and export ------------------------------------------------------------------------


def _state_condition(state: str, now: datetime) -> ColumnElement[bool]:
    try:
        wanted = CouponState(state)
    except ValueError:
        raise ValueError(f"unknown coupon state {state!r}") from None
    if wanted == CouponState.ISSUED:
        return _redeemable(now)
    if wanted == CouponState.EXPIRED:
        return and_(
            Coupon.status == CouponStatus.ISSUED,
            Coupon.expires_at.is_not(None),
            Coupon.expires_at <= now,
        )
    return Coupon.status == wanted.value


def list_coupons(
    session: Session,
    campaign_id: int,
    search_code: str | None = None,
    state: str | None = None,
    after_id: int | None = None,
    limit: int = 50,
) -> list[CouponView]:
    """One page of a campaign's coupons in id order; pass the last coupon_id as after_id.

    Codes are stored hashed, so search matches a whole code (any case, dash optional) only.
    """
    now = utcnow()
    query = _view_query().where(Coupon.campaign_id == campaign_id)
    if search_code:
        normalized = normalize_short_code(search_code)
        if normalized is None:
            return []
        query = query.where(Coupon.short_code_hash == short_code_hash(normalized))
    if state:
        query = query.where(_state_condition(state, now))
    if after_id is not None:
        query = query.where(Coupon.id > after_id)
    rows = session.execute(query.order_by(Coupon.id).limit(max(1, min(limit, 1000))))
    fc = cipher()
    return [_to_view(row, fc, now) for row in rows]


EXPORT_COLUMNS = (
    "coupon_id",
    "short_code",
    "state",
    "customer_first_name",
    "expires_at",
    "redeemed_at",
    "redeemed_by",
    "ticket_amount",
)


def _csv_cell(value: object) -> str:
    """ISO times; text that a spreadsheet would run as a formula gets a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return str(neutralise(str(value)))


def export_coupons_csv(session: Session, campaign_id: int, out: TextIO) -> int:
    """Every coupon of a campaign as CSV (codes decrypted: staff need them); returns the row count."""
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    count, after_id = 0, None
    while page := list_coupons(session, campaign_id, after_id=after_id, limit=1000):
        for view in page:
            writer.writerow(
                _csv_cell(v)
                for v in (
                    view.coupon_id,
                    view.short_code,
                    view.state.value,
                    view.customer_first_name,
                    view.expires_at,
                    view.redeemed_at,
                    view.redeemed_by,
                    view.amount,
                )
            )
        count += len(page)
        after_id = page[-1].coupon_id
    return count
