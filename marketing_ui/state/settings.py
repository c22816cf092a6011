"""Settings page: system status (green, checking or red), health job, identity, sending limits,
guard, frequency cap, print materials and signups per source."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable

import reflex as rx

from marketing_ui.api.print_materials import print_path
from marketing_ui.core import app_settings, print_materials, signup
from marketing_ui.core.config import get_settings
from marketing_ui.core.db import session_scope
from marketing_ui.core.jobs import JobState
from marketing_ui.core.signup import signups_by_source
from marketing_ui.core.system_status import (
    CHECKING,
    all_checks,
    health_check_state,
    request_health_check,
)
from marketing_ui.state.auth import AuthState

HEALTH_WAIT_S = 15.0


def _checks(health_unanswered_s: float | None = None) -> list[dict[str, str]]:
    return [
        {"name": c.name, "ok": "1" if c.ok else "", "state": c.state, "detail": c.detail}
        for c in all_checks(get_settings(), health_unanswered_s)
    ]


def _form_values(value: object) -> tuple[dict[str, str], dict[str, str]]:
    """A settings dataclass as the form shows it, and which fields the environment fixes."""
    cls = type(value)
    fixed = app_settings.fixed_by_environment(cls)
    shown = {
        k: f"{v:g}" if isinstance(v, float) else str(v)
        for k, v in dataclasses.asdict(value).items()  # type: ignore[call-overload]
    }
    return shown, {k: app_settings.env_name(cls, k) if k in fixed else "" for k in shown}


class SettingsState(AuthState):
    checks: list[dict[str, str]] = []
    environment: str = ""
    health_message: str = ""
    health_running: bool = False
    business: dict[str, str] = {}
    limits: dict[str, str] = {}
    ceilings: dict[str, str] = {}  # what the limits allow, in words ("up to 500 emails/s")
    limits_fixed: dict[str, str] = {}  # field -> the environment variable that fixes it, or ""
    business_message: str = ""
    business_error: str = ""
    limits_message: str = ""
    limits_error: str = ""
    guard: dict[str, str] = {}
    guard_fixed: dict[str, str] = {}  # field -> the environment variable that fixes it, or ""
    guard_message: str = ""
    guard_error: str = ""
    cap: dict[str, str] = {}
    cap_fixed: dict[str, str] = {}  # field -> the environment variable that fixes it, or ""
    cap_summary: str = ""
    cap_message: str = ""
    cap_error: str = ""
    signup: dict[str, str] = {}  # the signup card (issue 15): keyword, embed origins, link life
    signup_snippet: str = ""
    signup_join_url: str = ""
    signup_message: str = ""
    signup_error: str = ""
    money: dict[str, str] = {}
    money_message: str = ""
    money_error: str = ""

    def _show_cap(self, value: app_settings.FrequencyCap) -> None:
        self.cap, self.cap_fixed = _form_values(value)
        self.cap_summary = value.describe()

    def _show_guard(self, value: app_settings.DeliverabilityLimits) -> None:
        self.guard, self.guard_fixed = _form_values(value)

    @rx.event
    def load(self):
        settings = get_settings()
        self.environment = settings.app_env
        self.checks = _checks()
        with session_scope() as session:
            identity = app_settings.business_identity(session)
            limits = app_settings.sending_limits(session)
            self._show_guard(app_settings.deliverability_limits(session))
            self._show_cap(app_settings.frequency_cap(session))
            self._show_signup(app_settings.signup_settings(session))
            self._show_money(app_settings.money_settings(session))
        self._show_business(identity)
        self._show_limits(limits)
        self._load_print(identity)
        if any(c["state"] == CHECKING for c in self.checks) and not self.health_running:
            return SettingsState.run_health_check  # a registered worker is asked, never shown red
        return None

    @rx.event(background=True)
    async def run_health_check(self):
        """Enqueue the health job and wait (without holding the state lock) for a worker."""
        async with self:
            if self.health_running:
                return  # one check at a time per page
            self.health_running = True
            self.health_message = "Health job queued; waiting for a worker…"
        job_id = await asyncio.to_thread(request_health_check)
        deadline = asyncio.get_running_loop().time() + HEALTH_WAIT_S
        status = None
        while asyncio.get_running_loop().time() < deadline:
            status = await asyncio.to_thread(health_check_state, job_id)
            if status in (JobState.FINISHED, JobState.FAILED):
                break
            await asyncio.sleep(0.25)
        unanswered = None if status == JobState.FINISHED else HEALTH_WAIT_S
        checks = await asyncio.to_thread(_checks, unanswered)
        async with self:
            self.checks = checks
            self.health_running = False
            if status == JobState.FINISHED:
                self.health_message = "A worker answered the health job."
            elif status == JobState.FAILED:
                self.health_message = "The health job failed on the worker; see the worker log."
            else:
                self.health_message = f"No worker answered within {HEALTH_WAIT_S:.0f} s."

    def _save(self, card: str, update: Callable, form: dict, show: Callable, saved: str) -> None:
        """One settings card's save: stored and shown, or "Not saved" naming every wrong field.

        `card` prefixes the card's `_error` and `_message` vars; nothing is stored on an error.
        """
        try:
            with session_scope() as session:
                value = update(session, form)
        except app_settings.SettingsError as exc:
            setattr(self, f"{card}_error", f"Not saved: {exc}")
            setattr(self, f"{card}_message", "")
            return
        show(value)
        setattr(self, f"{card}_error", "")
        setattr(self, f"{card}_message", saved)

    def _show_business(self, identity: app_settings.BusinessIdentity) -> None:
        self.business = {k: str(v) for k, v in dataclasses.asdict(identity).items()}

    @rx.event
    def save_business(self, form: dict):
        self._save(
            "business",
            app_settings.update_business_identity,
            form,
            self._show_business,
            "Business identity saved.",
        )

    def _show_limits(self, limits: app_settings.SendingLimits) -> None:
        self.limits, self.limits_fixed = _form_values(limits)
        self.ceilings = limits.describe()

    @rx.event
    def save_limits(self, form: dict):
        self._save(
            "limits",
            app_settings.update_sending_limits,
            form,
            self._show_limits,
            "Sending limits saved; workers use them from their next batch.",
        )

    @rx.event
    def save_guard(self, form: dict):
        self._save(
            "guard",
            app_settings.update_deliverability_limits,
            form,
            self._show_guard,
            "Deliverability limits saved; sending campaigns are judged by them now.",
        )

    @rx.event
    def save_cap(self, form: dict):
        self._save(
            "cap",
            app_settings.update_frequency_cap,
            form,
            self._show_cap,
            "Frequency cap saved; sends started from now on use it.",
        )

    # Print a table tent or poster, and signups per source (issue 15) ---------------------------
    print_format: str = "tent"
    print_source: str = ""
    print_cta: str = print_materials.DEFAULT_CALL_TO_ACTION
    print_href: str = ""  # the download's path on the backend; "" while a field is wrong
    print_error: str = ""
    print_warning: str = ""  # characters of the business name that no installed font has
    signup_sources: list[dict[str, str]] = []

    def _load_print(self, identity: app_settings.BusinessIdentity) -> None:
        with session_scope() as session:
            counts = signups_by_source(session)
        self.signup_sources = [{"source": source, "signups": f"{n:,}"} for source, n in counts]
        missing = print_materials.unprintable_characters(identity.business_name)
        self.print_warning = (
            f"No font on this server has {' '.join(missing[:10])} of the business name: the PDF "
            "prints “?” there (install a font with them, e.g. fonts-noto-cjk)."
            if missing
            else ""
        )
        self._check_print()

    def _check_print(self) -> None:
        try:
            wanted = print_materials.parse_print_request(
                self.print_format, self.print_source, self.print_cta
            )
        except print_materials.PrintError as exc:
            self.print_error, self.print_href = str(exc), ""
            return
        self.print_error, self.print_href = "", print_path(wanted)

    @rx.event
    def set_print_format(self, value: str):
        self.print_format = str(value)[:40]
        self._check_print()

    @rx.event
    def set_print_source(self, value: str):
        self.print_source = str(value)[:200]
        self._check_print()

    @rx.event
    def set_print_cta(self, value: str):
        self.print_cta = str(value)[:500]
        self._check_print()

    # Signup card (issue 15): text-to-join keyword, websites allowed to embed, the snippet ------

    def _show_signup(self, value: app_settings.SignupSettings) -> None:
        self.signup = {k: str(v) for k, v in dataclasses.asdict(value).items()}
        with session_scope() as session:
            self.signup_snippet = signup.embed_snippet(session)
        self.signup_join_url = signup.join_url()

    @rx.event
    def save_signup(self, form: dict):
        self._save(
            "signup",
            app_settings.update_signup_settings,
            form,
            self._show_signup,
            "Signup settings saved.",
        )

    def _show_money(self, value: app_settings.MoneySettings) -> None:
        self.money = {k: str(v) for k, v in dataclasses.asdict(value).items()}

    @rx.event
    def save_money(self, form: dict):
        self._save(
            "money",
            app_settings.update_money_settings,
            form,
            self._show_money,
            "Money settings saved; revenue and message costs use them now.",
        )
