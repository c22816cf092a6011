"""The editor's A/B test section: variants B-D of subject, content and offer, share, metric, window."""

from __future__ import annotations

import reflex as rx

from marketing_ui.core import ab_tests, statuses
from marketing_ui.core.ab_tests import CONTENT_FIELDS, AbTestError, VariantDraft
from marketing_ui.core.db import session_scope
from marketing_ui.core.models import Campaign
from marketing_ui.state.auth import AuthState
from marketing_ui.state.route import route_id

METRICS = ("clicks", "redemptions")


def _draft_dict(d: VariantDraft) -> dict[str, str]:
    return {"label": d.label, **{f: getattr(d, f) for f in CONTENT_FIELDS}}


class CampaignAbState(AuthState):
    """Loaded with the editor (on mount); saved with its own button, refused by field."""

    ab_campaign_id: int = 0
    editable: bool = True
    percent: str = "0"
    metric: str = "clicks"
    window: str = "24"
    variants: list[dict[str, str]] = []  # B-D, each {label, subject, preheader, mjml_body, ...}
    a_subject: str = ""
    error: str = ""
    error_field: str = ""
    message: str = ""

    @rx.var
    def can_add(self) -> bool:
        return self.editable and len(self.variants) < len(ab_tests.LABELS) - 1

    @rx.var
    def test_on(self) -> bool:
        return self.percent.strip() not in ("", "0")

    def _read(self, campaign_id: int) -> None:
        with session_scope() as session:
            campaign = session.get(Campaign, campaign_id) if campaign_id else None
            if campaign is None:
                self.ab_campaign_id = 0
                return
            drafts = ab_tests.drafts(session, campaign)
            self.ab_campaign_id = campaign_id
            self.editable = campaign.status in statuses.EDITABLE
            self.percent = str(campaign.ab_test_percent)
            self.metric = campaign.ab_metric or "clicks"
            self.window = str(campaign.ab_window_hours)
            self.a_subject = campaign.subject
            self.variants = [_draft_dict(d) for d in drafts[1:]]

    @rx.event
    def load(self):
        self.error = self.error_field = self.message = ""
        self._read(route_id(self))

    @rx.event
    def set_percent(self, value: str):
        self.percent = value[:6]

    @rx.event
    def set_metric(self, value: str):
        self.metric = value if value in METRICS else "clicks"

    @rx.event
    def set_window(self, value: str):
        self.window = value[:6]

    @rx.event
    def add_variant(self):
        """A new variant starts as a copy of A (the campaign as saved)."""
        if not self.can_add:
            return
        with session_scope() as session:
            campaign = session.get(Campaign, self.ab_campaign_id)
            if campaign is None:
                return
            label = ab_tests.LABELS[len(self.variants) + 1]
            self.variants = [*self.variants, _draft_dict(ab_tests.draft_of(campaign, label))]
        self.message = ""

    @rx.event
    def remove_variant(self, label: str):
        kept = [v for v in self.variants if v["label"] != label]
        self.variants = [  # relabel so the labels stay B, C, D in order
            v | {"label": ab_tests.LABELS[i + 1]} for i, v in enumerate(kept)
        ]

    @rx.event
    def set_variant_field(self, label: str, field: str, value: str):
        if field not in CONTENT_FIELDS:
            return
        self.variants = [v | {field: value} if v["label"] == label else v for v in self.variants]

    @rx.event
    def save(self):
        self.error = self.error_field = self.message = ""
        try:
            settings = ab_tests.parse_settings(self.percent, self.metric, self.window)
            drafts = [
                VariantDraft(v["label"], *(str(v.get(f, "")) for f in CONTENT_FIELDS))
                for v in self.variants
            ]
            with session_scope() as session:
                ab_tests.save_test(session, self.ab_campaign_id, settings, drafts)
        except AbTestError as exc:
            self.error, self.error_field = str(exc), exc.field
            return
        self._read(self.ab_campaign_id)
        self.message = (
            f"A/B test saved: {self.percent}% of the audience, {len(self.variants) + 1} variants."
            if self.test_on
            else "Saved: no A/B test (the variants are kept)."
        )
