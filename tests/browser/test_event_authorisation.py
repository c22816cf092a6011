"""An attacker with a websocket client, against the app served as in production.

Every event handler of every State, enumerated at run time (so a handler added later is covered
the day it is written), is sent over Reflex's real socket.io protocol without a session and with
a staff session. Each must be refused: a redirect back, no data in any frame, no change in the
database. An admin session proves the same client does get data when it is allowed to.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import hashlib
import inspect
import typing
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import socketio
import sqlalchemy as sa
from reflex.state import State
from sqlmodel import SQLModel

import marketing_ui.marketing_ui  # noqa: F401  (registers every State)
from marketing_ui.core.customers import CustomerInput, create_customer
from marketing_ui.core.db import get_engine, session_scope
from marketing_ui.state.access import Audience, all_handlers, audience_of
from marketing_ui.state.customers import CustomersState
from marketing_ui.state.redeem import RedeemState
from tests.browser.conftest import ADMIN, STAFF

T = typing.TypeVar("T")
NAMESPACE = "/_event"
SECRET_EMAIL = "victim.secret@example.org"
SECRET_PHONE = "+14155550199"
REPLY_TIMEOUT_S = 10

# Declared public on purpose; a new public handler must be added here by its author.
EXPECTED_PUBLIC = {
    "hydrate",
    "hydrate_and_load",
    "set_is_hydrated",
    "on_load_internal",
    "update_vars_internal",
    "handle_frontend_exception",
    "LoginState.load",
}
# Tables a background process may write while the test runs (worker heartbeats, analytics
# rollups); a refused event could not change them anyway.
VOLATILE_TABLES = {"analytics_watermark", "campaign_stat_hourly", "campaign_tally"}
# Columns the worker's scheduler writes on its own while the test runs (an automation tick
# stamps last_run_at even when nothing is due); every other column of their tables is compared.
VOLATILE_COLUMNS = {"automation": {"last_run_at"}}


def run_async(coro: typing.Coroutine[Any, Any, T]) -> T:
    """asyncio.run in a thread of its own: Playwright's sync API owns this thread's loop."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(contextvars.copy_context().run, asyncio.run, coro).result()


@dataclass
class Attacker:
    """One socket.io connection speaking Reflex's event protocol, as a browser tab would."""

    url: str
    cookie: str = ""
    token: str = field(default_factory=lambda: str(uuid.uuid4()))
    frames: list[dict[str, Any]] = field(default_factory=list)
    sio: socketio.AsyncClient | None = None

    async def connect(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.sio.on("event", self.frames.append, namespace=NAMESPACE)
        headers = {"Cookie": f"mk_session={self.cookie}"} if self.cookie else {}
        await self.sio.connect(
            f"{self.url}?token={self.token}",
            socketio_path=NAMESPACE,
            transports=["websocket"],
            namespaces=[NAMESPACE],
            headers=headers,
        )

    async def send(
        self,
        name: str,
        payload: dict[str, Any],
        path: str = "/customers",
        query: dict[str, str] | None = None,
    ) -> None:
        """Send an event as the browser does: route parameters travel in `query`."""
        assert self.sio is not None
        router_data: dict[str, Any] = {"pathname": path, "asPath": path}
        if query:
            router_data["query"] = query
        await self.sio.emit(
            "event", {"name": name, "payload": payload, "router_data": router_data}, NAMESPACE
        )

    async def wait_for(
        self, predicate: typing.Callable[[dict[str, Any]], bool], start: int = 0
    ) -> dict:
        """The first frame from index `start` on that matches."""
        deadline = asyncio.get_running_loop().time() + REPLY_TIMEOUT_S
        seen = start
        while asyncio.get_running_loop().time() < deadline:
            for frame in self.frames[seen:]:
                if predicate(frame):
                    return frame
            seen = len(self.frames)
            await asyncio.sleep(0.01)
        raise AssertionError(f"no matching frame within {REPLY_TIMEOUT_S} s: {self.frames[-3:]}")

    async def close(self) -> None:
        if self.sio is not None:
            await self.sio.disconnect()


def _redirects(frame: dict[str, Any]) -> list[str]:
    return [
        str(e.get("payload", {}).get("path", ""))
        for e in frame.get("events") or []
        if e.get("name") == "_redirect"
    ]


def _short(name: str) -> str:
    """`...customers_state.load` -> `CustomersState.load`; Reflex's own -> bare name."""
    state, _, handler = name.rpartition(".")
    leaf = state.rsplit(".", 1)[-1]
    if leaf.startswith("reflex___"):
        return handler
    words = leaf.rsplit("___", 1)[-1].strip("_").split("_")
    return "".join(w.capitalize() for w in words) + "." + handler


def _payload_for(name: str) -> dict[str, Any]:
    """Plausible arguments, so an unguarded handler would really do something."""
    from reflex_base.registry import RegistrationContext

    fn = RegistrationContext.get().event_handlers[name].handler.fn
    out: dict[str, Any] = {}
    for pname, param in list(inspect.signature(fn).parameters.items())[1:]:
        hint = str(param.annotation).lower()
        if "dict" in hint:
            out[pname] = {
                "email": "attacker@evil.test",
                "first_name": "Mallory",
                "name": "Phish",
                "code": "ABCD-EFGH",
                "subject": "Win",
                "value": "1",
                "note": "x",
                "password": "x",
            }
        elif "list" in hint:
            out[pname] = ["1"]
        elif "bool" in hint:
            out[pname] = True
        elif "int" in hint or "float" in hint:
            out[pname] = 1
        else:
            out[pname] = "1"
    return out


def _db_fingerprint() -> dict[str, str]:
    engine = get_engine()
    out = {}
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            if table.name in VOLATILE_TABLES:
                continue
            skip = VOLATILE_COLUMNS.get(table.name, set())
            columns = [c for c in table.columns if c.name not in skip]
            rows = conn.execute(sa.select(*columns).order_by(*table.primary_key.columns)).all()
            out[table.name] = hashlib.sha256(repr(rows).encode()).hexdigest()
    return out


def _login_cookie(url: str, username: str, password: str) -> str:
    response = httpx.post(
        f"{url}/auth/login",
        data={"username": username, "password": password, "next": "/"},
        headers={"Origin": url},
    )
    assert response.status_code == 303, response.text
    # Set by the server, out of JavaScript's reach, never sent cross-site, https-only in production.
    flags = response.headers["set-cookie"].lower()
    assert "httponly" in flags and "samesite=strict" in flags and "secure" in flags
    return response.cookies["mk_session"]


@pytest.fixture(scope="module")
def victim_customer(app_url: str) -> Iterator[None]:
    with session_scope() as session:
        create_customer(
            session,
            CustomerInput(
                first_name="Victim",
                last_name="Secret",
                email=SECRET_EMAIL,
                phone=SECRET_PHONE,
                email_consent=True,
                sms_consent=True,
            ),
        )
    yield


def _leaks(frames: list[dict[str, Any]]) -> list[str]:
    text = repr(frames)
    return [s for s in (SECRET_EMAIL, SECRET_PHONE, "Victim") if s in text]


async def _attack(url: str, cookie: str, refused: set[str]) -> list[dict[str, Any]]:
    """Send every handler in `refused`; each must come back as a redirect and nothing else."""
    attacker = Attacker(url, cookie)
    await attacker.connect()
    try:
        for name in sorted(refused):
            before = len(attacker.frames)
            await attacker.send(name, _payload_for(name))
            frame = await attacker.wait_for(lambda f: bool(_redirects(f)), start=before)
            assert not frame.get("delta"), f"{_short(name)} sent data: {frame}"
    finally:
        await attacker.close()
    return attacker.frames


def test_declared_public_handlers_are_the_expected_few(app_url: str) -> None:
    public = {_short(name) for name, audience in all_handlers() if audience == Audience.PUBLIC}
    assert public == EXPECTED_PUBLIC
    assert all(
        audience == Audience.NOBODY for name, audience in all_handlers() if name.endswith(".setvar")
    )


def test_every_handler_refuses_a_visitor_without_a_session(app_url: str, victim_customer) -> None:  # noqa: ANN001
    handlers = dict(all_handlers())
    refused = {n for n, a in handlers.items() if a != Audience.PUBLIC}
    assert len(refused) > 150  # the whole app, not a sample
    before = _db_fingerprint()
    frames = run_async(_attack(app_url, "", refused))
    assert _db_fingerprint() == before
    assert _leaks(frames) == []
    # Every refusal sends the browser to log in, back to the page it was on.
    assert all(path.startswith("/login?next=") for f in frames for path in _redirects(f)), frames[
        :3
    ]


def test_every_admin_handler_refuses_staff(app_url: str, victim_customer) -> None:  # noqa: ANN001
    cookie = _login_cookie(app_url, *STAFF)
    refused = {n for n, a in all_handlers() if a in (Audience.ADMIN, Audience.NOBODY)}
    assert len(refused) > 150
    before = _db_fingerprint()
    frames = run_async(_attack(app_url, cookie, refused))
    after = _db_fingerprint()
    assert after == before
    assert _leaks(frames) == []
    assert all(path.startswith("/redeem?denied=") for f in frames for path in _redirects(f))


def test_a_forged_or_ended_session_is_a_visitor(app_url: str, victim_customer) -> None:  # noqa: ANN001
    """A made-up cookie gets nothing; a real one stops working as soon as its session ends."""
    load = CustomersState.event_handlers["load"]
    load_name = f"{CustomersState.get_full_name()}.load"
    assert audience_of(load.fn) == Audience.ADMIN

    async def scenario() -> None:
        forged = Attacker(app_url, cookie="A" * 43)
        await forged.connect()
        await forged.send(load_name, {})
        frame = await forged.wait_for(lambda f: bool(_redirects(f)))
        assert _redirects(frame)[0].startswith("/login")
        await forged.close()

        # The positive control: the same client with an admin cookie does get the data (found
        # by its exact address: other tests' customers may fill the first page).
        cookie = _login_cookie(app_url, *ADMIN)
        admin = Attacker(app_url, cookie)
        await admin.connect()
        await admin.send(f"{CustomersState.get_full_name()}.set_search", {"value": SECRET_EMAIL})
        await admin.wait_for(lambda f: SECRET_EMAIL in repr(f))

        # Logging out ends the session for the socket that is still open, within seconds.
        httpx.post(
            f"{app_url}/auth/logout", cookies={"mk_session": cookie}, headers={"Origin": app_url}
        )
        await asyncio.sleep(0)  # the open socket learns nothing from the logout itself
        deadline = asyncio.get_running_loop().time() + 5
        while True:
            start = len(admin.frames)
            await admin.send(load_name, {})
            frame = await admin.wait_for(lambda f: True, start=start)
            if _redirects(frame):
                break
            assert asyncio.get_running_loop().time() < deadline, "logout did not take effect"
            await asyncio.sleep(0.5)
        await admin.close()

        # The same tab (client token) reconnecting without a session finds nothing left over.
        stale = Attacker(app_url, cookie="", token=admin.token)
        await stale.connect()
        await stale.send(f"{State.get_full_name()}.hydrate", {}, path="/login")
        await stale.wait_for(lambda f: bool(f.get("delta")))
        await asyncio.sleep(0.5)
        await stale.close()
        assert _leaks(stale.frames) == []

    run_async(scenario())


def test_staff_may_use_the_counter_but_not_reach_admin_data(app_url: str) -> None:
    cookie = _login_cookie(app_url, *STAFF)
    lookup = f"{RedeemState.get_full_name()}.lookup_code"

    async def scenario() -> None:
        staff = Attacker(app_url, cookie)
        await staff.connect()
        await staff.send(lookup, {"form": {"code": "ZZZZ-ZZZZ"}}, path="/redeem")
        frame = await staff.wait_for(lambda f: "result" in repr(f.get("delta", {})))
        assert "unknown" in repr(frame["delta"])
        await staff.close()

    run_async(scenario())


class TestUploadEndpoint:
    """Reflex's /_upload, in front of which the guard decides before reading the body."""

    def _post(self, url: str, handler: str, cookie: str = "", size: int = 10, **headers: str):  # noqa: ANN202
        files = {"files": ("people.csv", b"email\n" + b"a" * size, "text/csv")}
        return httpx.post(
            f"{url}/_upload",
            files=files,
            headers={
                "reflex-client-token": str(uuid.uuid4()),
                "reflex-event-handler": handler,
                **headers,
            },
            cookies={"mk_session": cookie} if cookie else {},
        )

    def _handler(self, state_cls: type, name: str) -> str:
        return f"{state_cls.get_full_name()}.{name}"

    def test_refuses_without_the_right_session(self, app_url: str) -> None:
        from marketing_ui.state.customer_import import ImportState

        handler = self._handler(ImportState, "handle_upload")
        assert self._post(app_url, handler).status_code == 401
        assert self._post(app_url, handler, _login_cookie(app_url, *STAFF)).status_code == 403

    def test_refuses_handlers_that_take_no_files_and_unknown_ones(self, app_url: str) -> None:
        cookie = _login_cookie(app_url, *ADMIN)
        not_upload = self._handler(CustomersState, "bulk_delete")
        assert self._post(app_url, not_upload, cookie).status_code == 400
        assert self._post(app_url, "state.nope.nothing", cookie).status_code == 400

    def test_refuses_a_body_over_the_limit_before_reading_it(self, app_url: str) -> None:
        from marketing_ui.state.campaign_edit import CampaignEditState

        cookie = _login_cookie(app_url, *ADMIN)
        handler = self._handler(CampaignEditState, "upload_image")
        response = self._post(app_url, handler, cookie, size=3 * 1024 * 1024)
        assert response.status_code == 413
        assert "larger than 2 MB" in response.text

    def test_uploaded_files_are_not_served(self, app_url: str) -> None:
        assert httpx.get(f"{app_url}/_upload/anything.csv").status_code == 404


def test_a_flood_of_watch_calls_leaves_one_live_loop(app_url: str) -> None:
    """Starting the progress page's background loop 40 times keeps one loop alive, not 40."""
    from marketing_ui.core.campaigns import create_campaign
    from marketing_ui.core.models import CampaignStatus
    from marketing_ui.state.campaign_progress import POLL_S, CampaignProgressState

    with session_scope() as session:
        campaign = create_campaign(session, "Watched send")
        campaign.status = CampaignStatus.SENDING
        session.add(campaign)
        session.commit()
        campaign_id = campaign.id
    cookie = _login_cookie(app_url, *ADMIN)
    path = f"/campaigns/{campaign_id}/progress"
    watch = f"{CampaignProgressState.get_full_name()}.watch"

    async def scenario() -> int:
        admin = Attacker(app_url, cookie)
        await admin.connect()
        route = {"campaign_id": str(campaign_id)}
        await admin.send(f"{CampaignProgressState.get_full_name()}.load", {}, path, route)
        await admin.wait_for(lambda f: "updates" in repr(f.get("delta", {})))
        for _ in range(40):
            await admin.send(watch, {}, path, route)
        await asyncio.sleep(4 * POLL_S)  # superseded loops notice on their next round
        start = len(admin.frames)
        await asyncio.sleep(10 * POLL_S)
        updates = sum("updates" in repr(f.get("delta", {})) for f in admin.frames[start:])
        await admin.close()
        return updates

    updates = run_async(scenario())
    # One loop refreshes once per POLL_S: about 10 updates in the window; 40 loops would be ~400.
    assert 3 <= updates <= 14, updates
