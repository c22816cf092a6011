"""The Automations page: one card per automation with its switch and last 30 days."""

from __future__ import annotations

import reflex as rx

from marketing_ui.core.automations import config, reports
from marketing_ui.core.db import session_scope
from marketing_ui.state.auth import AuthState

CHANNEL_NAMES = {"email": "Email", "sms": "SMS", "both": "Email and SMS"}


def card_of(view: config.AutomationView, sent: int) -> dict[str, str]:
    return {
        "kind": view.kind,
        "name": view.name,
        "description": view.description,
        "enabled": "1" if view.enabled else "",
        "channel": CHANNEL_NAMES.get(view.channel, view.channel),
        "key": view.key_parameter,
        "sent_30": f"{sent:,}",
    }


class AutomationsState(AuthState):
    cards: list[dict[str, str]] = []
    error: str = ""
    message: str = ""

    def _reload(self) -> None:
        with session_scope() as session:
            config.ensure_defaults(session)
            views = config.list_automations(session)
            recent = reports.recent(session, days=30)
        self.cards = [card_of(v, recent.get(v.id, reports.Counts()).sent) for v in views]

    @rx.event
    def load(self):
        self.error = self.message = ""
        self._reload()

    @rx.event
    def toggle(self, kind: str, enabled: bool):
        if kind not in config.VISIBLE_KINDS:
            return
        try:
            with session_scope() as session:
                view = config.set_enabled(session, kind, bool(enabled))
        except config.AutomationError as exc:
            self.error = f"{config.KIND_NAMES[kind]}: {exc}"
            self.message = ""
        else:
            self.error = ""
            self.message = f"{view.name} is {'on' if view.enabled else 'off'}."
        self._reload()
