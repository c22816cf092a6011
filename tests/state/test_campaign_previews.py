"""Editor and preview pages render in a worker thread, so a slow template never stalls the app."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from types import SimpleNamespace
from typing import Any

import pytest

from marketing_ui.core import campaigns, messages
from marketing_ui.core.db import reset_engine_cache, session_scope
from marketing_ui.core.models import Campaign
from marketing_ui.core.rendering import load_template
from marketing_ui.state import campaign_edit, campaign_preview

EDIT_HANDLERS = [
    "load",
    "set_channel",
    "set_subject",
    "set_preheader",
    "set_from_name",
    "set_mjml_body",
    "set_sms_body",
    "set_has_qr_code",
    "set_offer_text",
    "set_offer_expires",
    "set_track_opens_clicks",
    "insert_field",
    "save",
]
PREVIEW_HANDLERS = ["load", "choose_customer", "use_sample", "send_test"]


def run_in_own_loop(make: Callable[[], Coroutine[Any, Any, int]]) -> int:
    """asyncio.run on a thread of its own: browser tests may leave a loop running on this one."""
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(asyncio.run(make())))
    thread.start()
    thread.join()
    return result[0]


@pytest.fixture
def render_threads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The thread each preview render ran on."""
    seen: list[int] = []
    real = messages.preview

    def recording(*args: object, **kwargs: object) -> messages.PreviewResult:
        seen.append(threading.get_ident())
        return real(*args, **kwargs)

    monkeypatch.setattr(messages, "preview", recording)
    return seen


@pytest.mark.parametrize(
    ("state", "names"),
    [
        (campaign_edit.CampaignEditState, EDIT_HANDLERS),
        (campaign_preview.CampaignPreviewState, PREVIEW_HANDLERS),
    ],
)
def test_handlers_that_render_are_coroutines(state: type, names: list[str]) -> None:
    for name in names:
        assert asyncio.iscoroutinefunction(state.__dict__[name].fn), name


def test_the_editor_preview_renders_off_the_event_loop(render_threads: list[int]) -> None:
    draft = Campaign(name="Draft", channel="both", subject="Hi", sms_body="Hi {{ first_name }}")
    draft.mjml_body = load_template("monday_special")
    editor = SimpleNamespace(_draft=lambda: draft)

    async def rebuild() -> int:
        await campaign_edit.CampaignEditState.__dict__["_rebuild_preview"](editor)
        return threading.get_ident()

    loop_thread = run_in_own_loop(rebuild)
    assert render_threads and loop_thread not in render_threads
    assert "Alex" in editor.preview_html and editor.sms_preview.startswith("Hi Alex")
    assert editor.preview_error == ""


def test_the_preview_page_renders_off_the_event_loop(render_threads: list[int]) -> None:
    reset_engine_cache()
    with session_scope() as session:
        campaign = campaigns.create_campaign(session, "Monday", "monday_special", "email")
    page = SimpleNamespace(shown_campaign_id=campaign.id, customer_id=0)

    async def render() -> int:
        await campaign_preview.CampaignPreviewState.__dict__["_render"](page)
        return threading.get_ident()

    loop_thread = run_in_own_loop(render)
    assert render_threads and loop_thread not in render_threads
    assert page.not_found is False and page.name == "Monday"
    assert "Alex" in page.html and page.errors == ""
