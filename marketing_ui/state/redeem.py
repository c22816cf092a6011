"""Counter redemption and check-in: find a coupon by scanned token or typed code, redeem it once,
undo (admin); or find a customer by exact phone, email or personal QR and record a visit."""

from __future__ import annotations

import reflex as rx

from marketing_ui.core import app_settings, check_in, coupons, visits
from marketing_ui.core.auth import CurrentUser
from marketing_ui.core.check_in import CheckInCard
from marketing_ui.core.coupons import CouponState, CouponView, RedeemResult, UndoResult
from marketing_ui.core.db import session_scope
from marketing_ui.core.money import AmountError
from marketing_ui.core.redeem_limits import redeem_limiter
from marketing_ui.core.time_display import format_day_and_time
from marketing_ui.state.access import session_user, staff
from marketing_ui.state.auth import AuthState

REDEEM_PATH = "/redeem/"
LOGIN_AGAIN = "/login?next=/redeem"  # the session ended while the page was open

# Result kinds the page colours: green for success, amber for "look again", red for refusals.
RESULT_COLORS = {
    "ok": "grass",
    "undone": "blue",
    "already_redeemed": "amber",
    "expired": "red",
    "cancelled": "red",
    "unknown": "red",
    "forbidden": "red",
    "limited": "red",
    "not_redeemed": "amber",
}


def _coupon_dict(view: CouponView, timezone: str) -> dict[str, str]:
    return {
        "short_code": view.short_code,
        "offer": view.offer_text or view.campaign_name,
        "campaign": view.campaign_name,
        "first_name": view.customer_first_name or "Customer",
        "state": view.state.value,
        "expires": format_day_and_time(view.expires_at, timezone) or "Never",
        "redeemed_at": format_day_and_time(view.redeemed_at, timezone),
        "redeemed_by": view.redeemed_by or "",
        "amount": str(view.amount) if view.amount else "",
    }


def _card_dict(card: CheckInCard, timezone: str) -> dict[str, str]:
    count = card.visit_count
    return {
        "first_name": card.first_name or "Customer",
        "contact": card.contact,
        "visits": f"{count} visit" if count == 1 else f"{count} visits",
        "last_visit": format_day_and_time(card.last_visit_at, timezone) or "Never",
    }


NOT_FOUND = "No customer has exactly this phone, email or QR. Check it and try again."

_NOT_REDEEMABLE = {
    CouponState.REDEEMED: RedeemResult.ALREADY_REDEEMED,
    CouponState.EXPIRED: RedeemResult.EXPIRED,
    CouponState.CANCELLED: RedeemResult.CANCELLED,
}


class RedeemState(AuthState):
    """The coupon on screen and the outcome of the last action; the coupon id stays server-side."""

    coupon: dict[str, str] = {}
    result: str = ""
    message: str = ""
    denied_page: str = ""  # the admin page this account was sent away from (?denied=/path)
    _coupon_id: int = 0
    _timezone: str = "UTC"
    # Check-in: the found customer's card and the outcome; the customer id stays server-side.
    card: dict[str, str] = {}
    checkin_result: str = ""
    checkin_message: str = ""
    _card_customer_id: int = 0
    currency_symbol: str = "$"  # shown before the ticket amount fields
    amount_error: str = ""  # the redeem form's ticket amount was refused (nothing recorded)
    checkin_amount_error: str = ""

    @rx.var
    def checkin_color(self) -> str:
        return RESULT_COLORS.get(self.checkin_result, "gray")

    @rx.var
    def result_color(self) -> str:
        return RESULT_COLORS.get(self.result, "gray")

    @rx.var
    def can_redeem(self) -> bool:
        return self.coupon.get("state", "") == CouponState.ISSUED.value

    @rx.var
    def can_undo(self) -> bool:
        return self.is_admin and self.coupon.get("state", "") == CouponState.REDEEMED.value

    # Helpers ------------------------------------------------------------------------------

    def _read_amount(self, text: object) -> tuple[bool, object]:
        """(ok, amount or None) from the typed ticket amount; (False, message) when refused."""
        try:
            with session_scope() as session:
                return True, visits.ticket_amount(session, str(text or "")[:64])
        except AmountError as exc:
            return False, str(exc)

    def _load_currency(self) -> None:
        with session_scope() as session:
            self.currency_symbol = app_settings.money_settings(session).symbol

    def _reset(self) -> None:
        self.amount_error = ""
        self.coupon = {}
        self.result = ""
        self.message = ""
        self._coupon_id = 0

    def _reset_card(self) -> None:
        self.checkin_amount_error = ""
        self.card = {}
        self.checkin_result = ""
        self.checkin_message = ""
        self._card_customer_id = 0

    def _find_customer(self, user: CurrentUser, text: str) -> None:
        """Show the card of the customer with exactly this phone, email or personal QR."""
        with session_scope() as session:
            self._timezone = app_settings.business_identity(session).timezone
            found = check_in.find_customer(session, text)
        self._reset_card()
        if found is None:
            redeem_limiter().record_miss(user.id, self._client_ip())
            self.checkin_result, self.checkin_message = "unknown", NOT_FOUND
            return
        self._card_customer_id = found.customer_id
        self.card = _card_dict(found, self._timezone)

    def _client_ip(self) -> str:
        return self.router.session.client_ip or "unknown"

    def _allowed(self, user: CurrentUser) -> bool:
        """Count the attempt; when over a limit, say so and keep the coupon off screen."""
        decision = redeem_limiter().attempt(user.id, self._client_ip())
        if not decision.allowed:
            self._reset()
            self.result = "limited"
            self.message = decision.message
        return decision.allowed

    def _show(self, view: CouponView) -> None:
        """Put a found coupon on screen, saying straight away why it cannot be redeemed."""
        self._coupon_id = view.coupon_id
        self.coupon = _coupon_dict(view, self._timezone)
        self.result, self.message = "", ""
        if view.state in _NOT_REDEEMABLE:
            self._explain(_NOT_REDEEMABLE[view.state])

    def _already_text(self) -> str:
        who = self.coupon.get("redeemed_by") or "someone"
        when = self.coupon.get("redeemed_at") or "an unknown time"
        return f"Already redeemed on {when} by {who}."

    def _explain(self, result: RedeemResult) -> None:
        self.result = result.value
        coupon = self.coupon
        if result == RedeemResult.OK:
            name = coupon.get("first_name", "the customer")
            self.message = f"Redeemed. Give {name}: {coupon.get('offer', '')}"
            if coupon.get("amount"):
                self.message += f" (ticket {coupon['amount']})"
        elif result == RedeemResult.ALREADY_REDEEMED:
            self.message = self._already_text()
        elif result == RedeemResult.EXPIRED:
            self.message = f"Expired on {coupon.get('expires', '')}. It cannot be redeemed."
        elif result == RedeemResult.CANCELLED:
            self.message = "Cancelled: this campaign was withdrawn, so the coupon is void."
        elif result == RedeemResult.FORBIDDEN:
            self.message = "Your account is not allowed to redeem coupons."
        else:
            self.message = "No coupon matches. Check the code and try again."

    def _lookup(self, user: CurrentUser, by_token: str = "", by_code: str = "") -> None:
        with session_scope() as session:
            self._timezone = app_settings.business_identity(session).timezone
            if by_token:
                view = coupons.find_by_token(session, by_token)
            else:
                view = coupons.find_by_short_code(session, by_code)
        if view is None:
            redeem_limiter().record_miss(user.id, self._client_ip())
            self._reset()
            self._explain(RedeemResult.UNKNOWN)
            return
        self._show(view)

    # Events -------------------------------------------------------------------------------

    @rx.event
    @staff
    def load_form(self):
        """/redeem: an empty code form, saying why when an admin page sent this account here."""
        self._reset()
        self._reset_card()
        self._load_currency()
        denied = self.router.url.query_parameters.get("denied", "")
        valid = denied.startswith("/") and not denied.startswith("//") and len(denied) <= 200
        self.denied_page = (denied.rstrip("/") or "/") if valid else ""

    @rx.event
    @staff
    def load_token(self):
        """/redeem/<token>: what a phone camera opens after scanning the QR."""
        self._reset()
        self._reset_card()
        self._load_currency()
        user = session_user(self)
        if user is None:
            return  # the guard is already sending this browser to the login page
        path = self.router.url.path or ""
        token = path[len(REDEEM_PATH) :] if path.startswith(REDEEM_PATH) else ""
        if not token or not self._allowed(user):
            if not token:
                self._explain(RedeemResult.UNKNOWN)
            return
        token = token.strip("/")
        if check_in.is_personal_qr_token(token):
            self._find_customer(user, token)  # a customer's personal QR: their card
            return
        self._lookup(user, by_token=token)

    @rx.event
    @staff
    def lookup_code(self, form: dict):
        user = session_user(self)
        if user is None:
            return rx.redirect(LOGIN_AGAIN)
        code = str(form.get("code", "")).strip()[:32]
        if not code:
            self._reset()
            self.result, self.message = "unknown", "Type the code from the customer's coupon."
            return None
        if self._allowed(user):
            self._lookup(user, by_code=code)
        return None

    @rx.event
    @staff
    def redeem(self, form: dict):
        """The big button: one conditional UPDATE in the core decides who wins.

        The form's optional ticket amount is checked first: a refused amount redeems nothing
        and leaves the coupon on screen with the message under the field.
        """
        user = session_user(self)
        if user is None:
            return rx.redirect(LOGIN_AGAIN)
        if not self._coupon_id:
            return None
        ok, amount = self._read_amount((form or {}).get("amount", ""))
        if not ok:
            self.amount_error = str(amount)
            return None
        self.amount_error = ""
        if not self._allowed(user):
            return None
        coupon_id = self._coupon_id
        with session_scope() as session:
            outcome = coupons.redeem(session, coupon_id, user, amount)  # type: ignore[arg-type]
        if outcome.coupon is not None:
            self._coupon_id = outcome.coupon.coupon_id
            self.coupon = _coupon_dict(outcome.coupon, self._timezone)
        self._explain(outcome.result)
        return None

    @rx.event
    @staff
    def undo(self, form: dict):
        """Admin correction of a mistaken redemption; the core records it with the note."""
        user = session_user(self)
        if user is None:
            return rx.redirect(LOGIN_AGAIN)
        if not user.is_admin or not self._coupon_id:
            self.result, self.message = "forbidden", "Only an admin can undo a redemption."
            return None
        note = str(form.get("note", "")).strip()[:255]
        with session_scope() as session:
            outcome = coupons.undo_redemption(session, self._coupon_id, user, note)
        if outcome.coupon is not None:
            self.coupon = _coupon_dict(outcome.coupon, self._timezone)
        if outcome.result == UndoResult.OK:
            self.result = "undone"
            self.message = "Redemption undone and recorded. The coupon can be redeemed again."
        elif outcome.result == UndoResult.NOT_REDEEMED:
            self.result, self.message = "not_redeemed", "This coupon is not redeemed."
        else:
            self._explain(RedeemResult.FORBIDDEN)
        return None

    @rx.event
    @staff
    def find_customer(self, form: dict):
        """Check-in: exact phone, exact email or a pasted personal QR token; no partial matches."""
        user = session_user(self)
        if user is None:
            return rx.redirect(LOGIN_AGAIN)
        text = str(form.get("contact", "")).strip()[:200]
        if not text:
            self._reset_card()
            self.checkin_result = "unknown"
            self.checkin_message = "Type the customer's phone number or email address."
            return None
        if not self._allowed(user):
            self._reset_card()
            self.checkin_result, self.checkin_message = self.result, self.message
            self.result, self.message = "", ""
            return None
        self._find_customer(user, text)
        return None

    @rx.event
    @staff
    def record_check_in(self, form: dict):
        """The "Record visit" button: one visit for the customer on screen, with the ticket
        amount if staff typed one (a refused amount records nothing)."""
        user = session_user(self)
        if user is None:
            return rx.redirect(LOGIN_AGAIN)
        if not self._card_customer_id:
            return None
        ok, amount = self._read_amount((form or {}).get("amount", ""))
        if not ok:
            self.checkin_amount_error = str(amount)
            return None
        self.checkin_amount_error = ""
        with session_scope() as session:
            found = check_in.check_in(session, self._card_customer_id, user, amount)  # type: ignore[arg-type]
        if found is None:
            self._reset_card()
            self.checkin_result = "forbidden"
            self.checkin_message = "The visit was not recorded: this account may not check in."
            return None
        self.card = _card_dict(found, self._timezone)
        self.checkin_result = "ok"
        spent = f" Ticket {amount}." if amount else ""
        self.checkin_message = f"Visit recorded. Welcome back, {self.card['first_name']}!{spent}"
        return None

    @rx.event
    @staff
    def next_customer(self):
        """Clear the check-in card for the next customer."""
        self._reset_card()

    @rx.event
    @staff
    def next_coupon(self):
        """Clear the screen for the next customer."""
        self._reset()
        return rx.redirect("/redeem")
