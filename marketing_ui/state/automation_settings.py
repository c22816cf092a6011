"""One automation's page: its settings, switch, message links and weekly results."""

from __future__ import annotations

import plotly.graph_objects as go
import reflex as rx

from marketing_ui.components import charts
from marketing_ui.core.automations import config, reports
from marketing_ui.core.db import session_scope
from marketing_ui.state.auth import AuthState
from marketing_ui.state.route import route_word

HINTS = {
    "delay_hours": "How long after the trigger the message goes out.",
    "days_before": "0 sends it on the birthday itself (0 to 60).",
    "inactive_days": "Customers whose last visit is older than this are invited back.",
    "period_days": "A customer gets this message at most once in this many days.",
    "offer_valid_days": "How long the coupon holds; 0 sends no coupon (0 to 365).",
    "include_imports": "Also welcome customers whose consent came with an imported file.",
}


class AutomationSettingsState(AuthState):
    # Not `kind`: a var named like the route segment would shadow it (see state/route.py).
    shown_kind: str = ""
    not_found: bool = False
    name: str = ""
    description: str = ""
    enabled: bool = False
    channel: str = "email"
    template_campaign_id: int = 0
    fields: list[dict[str, str]] = []  # name, label, value, hint, flag ("1" for a switch)
    form_key: int = 0  # bumped after a save so the inputs show what was stored
    error: str = ""
    error_field: str = ""
    message: str = ""
    rows: list[dict[str, str]] = []
    revenue_total: dict[str, str] = {}  # the weeks shown together: revenue, cost, return
    chart: go.Figure = go.Figure()
    has_data: bool = False

    def _show(self, view: config.AutomationView) -> None:
        self.name, self.description = view.name, view.description
        self.enabled, self.channel = view.enabled, view.channel
        self.template_campaign_id = view.template_campaign_id or 0
        self.fields = [
            {
                "name": field,
                "label": config.LABELS[field],
                "value": "1" if getattr(view, field) is True else str(getattr(view, field)),
                "hint": HINTS.get(field, ""),
                "flag": "1" if field == "include_imports" else "",
            }
            for field in view.settings
        ]
        self.form_key += 1

    @rx.event
    def load(self):
        self.error = self.error_field = self.message = ""
        self.shown_kind = route_word(self, "kind", config.VISIBLE_KINDS)
        self.not_found = not self.shown_kind
        if self.not_found:
            return
        with session_scope() as session:
            config.ensure_defaults(session)
            view = config.get(session, self.shown_kind)
            weeks = reports.weekly(session, view.id)
            priced = [reports.earnings(session, r.counts).shown() for r in weeks]
            total = reports.earnings(session, sum((r.counts for r in weeks), reports.Counts()))
        self._show(view)
        self.revenue_total = total.shown()
        self.rows = [
            {
                "week": r.week.isoformat(),
                "sent": f"{r.counts.sent:,}",
                "opened": f"{r.counts.opened:,}",
                "clicked": f"{r.counts.clicked:,}",
                "redeemed": f"{r.counts.redeemed:,}",
                "visits": f"{r.counts.visits:,}",
                "revenue": money["revenue"],
                "cost": money["cost"],
                "return": money["return"],
            }
            for r, money in reversed(list(zip(weeks, priced, strict=True)))
        ]
        self.chart = charts.automation_weekly_figure(weeks)
        self.has_data = any(r.counts.sent for r in weeks)

    @rx.event
    def save(self, form: dict):
        if not self.shown_kind:
            return
        flags = {f["name"] for f in self.fields if f["flag"]}
        values = {k: str(v) for k, v in form.items()}
        for flag in flags:  # an unticked switch is absent from the form
            values[flag] = values.get(flag, "")
        try:
            with session_scope() as session:
                view = config.update(session, self.shown_kind, values)
        except config.AutomationError as exc:
            self.error, self.error_field, self.message = f"Not saved: {exc}", exc.field, ""
            return
        self._show(view)
        self.error = self.error_field = ""
        self.message = "Settings saved."

    @rx.event
    def toggle(self, enabled: bool):
        if not self.shown_kind:
            return
        try:
            with session_scope() as session:
                view = config.set_enabled(session, self.shown_kind, bool(enabled))
        except config.AutomationError as exc:
            self.error, self.error_field, self.message = str(exc), exc.field, ""
            return
        self.enabled = view.enabled
        self.error = self.error_field = ""
        self.message = f"{view.name} is {'on' if view.enabled else 'off'}."

    @rx.event
    def export_csv(self):
        if not self.shown_kind:
            return None
        with session_scope() as session:
            view = config.get(session, self.shown_kind)
            text = reports.weekly_csv(session, reports.weekly(session, view.id))
        return rx.download(data=text, filename=f"automation-{self.shown_kind}-weekly.csv")
