"""A campaign's coupons for the owner: state, who redeemed when, search by code, keyset pages."""

from __future__ import annotations

import reflex as rx

from marketing_ui.api.coupons import export_csv_path
from marketing_ui.core import app_settings, coupons, money, visits
from marketing_ui.core.auth import CurrentUser
from marketing_ui.core.coupons import CouponState, CouponView
from marketing_ui.core.db import session_scope
from marketing_ui.core.models import Campaign
from marketing_ui.core.time_display import format_day_and_time
from marketing_ui.state.access import session_user
from marketing_ui.state.auth import AuthState
from marketing_ui.state.route import route_id

PAGE_SIZE = 50
STATE_FILTERS = ["all", *(s.value for s in CouponState)]


def _row(view: CouponView, timezone: str) -> dict[str, str]:
    return {
        "id": str(view.coupon_id),
        "short_code": view.short_code,
        "state": view.state.value,
        "customer": view.customer_label,
        "expires": format_day_and_time(view.expires_at, timezone) or "Never",
        "redeemed_at": format_day_and_time(view.redeemed_at, timezone) or "—",
        "redeemed_by": view.redeemed_by or "—",
        "amount": str(view.amount) if view.amount else "—",
        "amount_plain": str(money.from_minor(view.amount.minor, view.amount.currency))
        if view.amount
        else "",
    }


class CampaignCouponsState(AuthState):
    """One page of rows; `_cursors` holds the after_id that opened each earlier page."""

    campaign_name: str = ""
    found: bool = True
    rows: list[dict[str, str]] = []
    search: str = ""
    state_filter: str = "all"
    page_number: int = 1
    has_next: bool = False
    export_path: str = ""
    shown_campaign_id: int = 0
    _cursors: list[int | None] = []
    _timezone: str = "UTC"
    amount_message: str = ""
    amount_error: str = ""

    def _fetch(self, after_id: int | None) -> None:
        with session_scope() as session:
            views = coupons.list_coupons(
                session,
                self.shown_campaign_id,
                search_code=self.search or None,
                state=None if self.state_filter == "all" else self.state_filter,
                after_id=after_id,
                limit=PAGE_SIZE + 1,
            )
        self.has_next = len(views) > PAGE_SIZE
        self.rows = [_row(v, self._timezone) for v in views[:PAGE_SIZE]]

    def _first_page(self) -> None:
        self._cursors = [None]
        self.page_number = 1
        self._fetch(None)

    @rx.event
    def load(self):
        self.rows, self.search, self.state_filter = [], "", "all"
        self.shown_campaign_id = route_id(self)
        with session_scope() as session:
            campaign = (
                session.get(Campaign, self.shown_campaign_id) if self.shown_campaign_id else None
            )
            self._timezone = app_settings.business_identity(session).timezone
        self.found = campaign is not None
        if campaign is None:
            self.campaign_name = ""
            return
        self.campaign_name = campaign.name
        self.export_path = export_csv_path(self.shown_campaign_id)
        self._first_page()

    @rx.event
    def search_code(self, form: dict):
        self.search = str(form.get("code", "")).strip()[:32]
        self._first_page()

    @rx.event
    def clear_search(self):
        self.search = ""
        self._first_page()

    @rx.event
    def set_state_filter(self, value: str):
        self.state_filter = value if value in STATE_FILTERS else "all"
        self._first_page()

    @rx.event
    def next_page(self):
        if not self.has_next or not self.rows:
            return
        after_id = int(self.rows[-1]["id"])
        self._cursors = [*self._cursors, after_id]
        self.page_number += 1
        self._fetch(after_id)

    @rx.event
    def previous_page(self):
        if len(self._cursors) <= 1:
            return
        self._cursors = self._cursors[:-1]
        self.page_number -= 1
        self._fetch(self._cursors[-1])

    @rx.event
    def correct_amount(self, form: dict):
        """Admin correction of one redemption's ticket amount (empty clears it); audited."""
        user: CurrentUser | None = session_user(self)
        shown = {row["id"] for row in self.rows if row["state"] == CouponState.REDEEMED.value}
        coupon_id = str(form.get("coupon_id", ""))
        self.amount_message = self.amount_error = ""
        if user is None or coupon_id not in shown:
            self.amount_error = "That coupon is not a redemption on this page."
            return
        try:
            with session_scope() as session:
                amount = visits.ticket_amount(session, str(form.get("amount", ""))[:64])
                outcome = coupons.correct_amount(session, int(coupon_id), user, amount)
        except money.AmountError as exc:
            self.amount_error = f"Not saved: {exc}"
            return
        if outcome.result != coupons.UndoResult.OK or outcome.coupon is None:
            self.amount_error = "Not saved: only an admin can correct a redeemed coupon's amount."
            return
        self.amount_message = (
            f"Ticket amount of {outcome.coupon.short_code} is now "
            f"{outcome.coupon.amount or 'none'}; the change is in the audit log."
        )
        self._fetch(self._cursors[-1] if self._cursors else None)
