"""Page states without a browser: a fresh database, a state as Reflex builds one, a logged-in session.

A State is built the way Reflex builds one (`_reflex_internal_init=True`), its router filled
with what a browser sends (the path, the route parameters in `query`, the session cookie in the
headers). Handlers are called directly, so the authorisation middleware does not run here;
handlers that ask who is logged in read the real session cookie, as they do behind it.
"""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import redis
from reflex.istate.data import RouterData
from reflex.state import BaseState
from sqlmodel import SQLModel

from marketing_ui.core import auth, campaigns, customers, segments, tags
from marketing_ui.core.config import reset_settings_cache
from marketing_ui.core.customers import CustomerInput
from marketing_ui.core.db import get_engine, reset_engine_cache, session_scope

S = TypeVar("S", bound=BaseState)
T = TypeVar("T")


@pytest.fixture
def app_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point the app at an empty SQLite database with every table, for one test."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'state.db'}")
    reset_settings_cache()
    reset_engine_cache()
    SQLModel.metadata.create_all(get_engine())
    yield
    reset_engine_cache()
    monkeypatch.undo()
    reset_settings_cache()


@pytest.fixture
def admin_cookie(app_db: None) -> str:
    """The `Cookie:` header of a logged-in admin, from a real login."""
    client = redis.Redis.from_url(os.environ["REDIS_URL"])  # login counts attempts there
    name = f"admin{uuid.uuid4().hex[:6]}"
    with session_scope() as session:
        auth.create_user(session, name, "correct horse battery")
        session.commit()
        token = auth.login(session, client, name, "correct horse battery", f"ip-{name}")
    return f"{auth.SESSION_COOKIE}={token}"


def page_state(cls: type[S], path: str, route: dict[str, str] | None = None, cookie: str = "") -> S:
    """A state as the page at `path` has it; `route` holds the `[name]` segments of the route."""
    state = cls(_reflex_internal_init=True)  # type: ignore[call-arg]
    router_data: dict[str, Any] = {
        "pathname": path,
        "asPath": path,
        "query": dict(route or {}),
        "headers": {"cookie": cookie} if cookie else {},
    }
    state.router_data = router_data
    state.router = RouterData.from_router_data(router_data)
    return state


def run(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run an async handler on a loop of its own thread (a browser test may own this one's)."""
    result: list[T] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(make()))
        except BaseException as exc:  # noqa: BLE001 - re-raised on the test's thread
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]


SUBSCRIBED = {"op": "and", "rules": [{"type": "consent", "channel": "email", "value": True}]}


@pytest.fixture
def world(app_db: None) -> dict[str, int]:
    with session_scope() as session:
        vip = tags.create_tag(session, "vip")
        session.flush()
        for name, consent in (("Ada", True), ("Bob", True), ("Cyd", False)):
            customers.create_customer(
                session,
                CustomerInput(
                    first_name=name,
                    email=f"{name.lower()}@example.com",
                    email_consent=consent,
                    tag_ids=[int(vip.id)] if name == "Ada" else [],
                ),
            )
        subscribed = segments.create_segment(session, "Subscribed", SUBSCRIBED)
        campaign = campaigns.create_campaign(session, "Monday", "monday_special", "email")
        session.commit()
        return {"vip": int(vip.id), "segment": int(subscribed.id), "campaign": int(campaign.id)}
