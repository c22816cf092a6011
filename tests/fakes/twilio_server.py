"""A loopback Twilio Messages API: create, list with To/DateSent filters, fetch, status callbacks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from datetime import UTC, date, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx

from tests.fakes import FakeServer, Reply, Request

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_MESSAGES = re.compile(r"^/2010-04-01/Accounts/(?P<sid>[^/]+)/Messages(?:/(?P<msg>[^/]+))?\.json$")
PAGE_SIZE_MAX = 1000


def _json(status: int, payload: object, headers: dict[str, str] | None = None) -> Reply:
    return Reply(
        status,
        json.dumps(payload).encode(),
        {"Content-Type": "application/json", **(headers or {})},
    )


def _error(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    """Twilio's error shape: {code, message, more_info, status}."""
    return _json(
        status,
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        headers,
    )


def twilio_signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    """X-Twilio-Signature: HMAC-SHA1 over the URL followed by the sorted form fields."""
    payload = url + "".join(k + params[k] for k in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class FakeTwilio(FakeServer):
    """Records every accepted message. Numbers containing "000000" are invalid (21211);
    numbers in `unsubscribed` answer 21610; `hold_queued` leaves messages without date_sent."""

    def __init__(
        self,
        account_sid: str = "AC" + "0" * 31 + "1",
        auth_token: str = "test-auth-token",
        seed: int = 0,
    ) -> None:
        super().__init__(seed)
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.unsubscribed: set[str] = set()
        self.hold_queued = False
        self._messages: list[dict[str, Any]] = []

    @property
    def messages(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(m) for m in self._messages]

    def count_by_recipient(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for message in self.messages:
            counts[message["to"]] = counts.get(message["to"], 0) + 1
        return counts

    def error_reply(self, status: int, retry_after: float | None = None) -> Reply:
        if status == 429:
            headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
            return _error(429, 20429, "Too Many Requests", headers)
        if status >= 500:
            return _error(status, 20500, "Internal Server Error")
        return _error(status, 21000 + status, "Injected failure")

    def handle(self, request: Request) -> Reply:
        if not self._authorized(request):
            return _error(401, 20003, "Authenticate")
        match = _MESSAGES.match(request.path)
        if match is None or match["sid"] != self.account_sid:
            return _error(404, 20404, "The requested resource was not found")
        if match["msg"]:
            return (
                self._fetch(match["msg"])
                if request.method == "GET"
                else _error(405, 20004, "Method not allowed")
            )
        if request.method == "POST":
            return self._create(dict(parse_qsl(request.body.decode(), keep_blank_values=True)))
        return self._list(request)

    def _authorized(self, request: Request) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return hmac.compare_digest(request.header("Authorization") or "", f"Basic {expected}")

    def _create(self, form: dict[str, str]) -> Reply:
        to, body = form.get("To", ""), form.get("Body", "")
        if not to:
            return _error(400, 21604, "A 'To' phone number is required.")
        if not form.get("From"):
            return _error(400, 21603, "A 'From' phone number is required.")
        if not body:
            return _error(400, 21602, "Message body is required.")
        if "000000" in to or not _E164.match(to):
            # Twilio quotes the number; clients must redact it.
            return _error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if to in self.unsubscribed:
            return _error(400, 21610, "Attempt to send to unsubscribed recipient")
        now = self.clock().replace(microsecond=0)
        sid = "SM" + secrets.token_hex(16)
        message = {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": body,
            "date_created": format_datetime(now),
            "date_updated": format_datetime(now),
            "date_sent": None,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form["From"],
            "messaging_service_sid": None,
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "to": to,
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
            "status_callback": form.get("StatusCallback"),
            "_created": now,
        }
        with self._lock:
            self._messages.append(message)
            reply = _json(201, _public(message))
            if not self.hold_queued:
                message.update(status="sent", date_sent=format_datetime(now))
            if self.accepted_then_500:
                return self.error_reply(500)
        return reply

    def _fetch(self, sid: str) -> Reply:
        with self._lock:
            found = next((m for m in self._messages if m["sid"] == sid), None)
            if found is None:
                return _error(
                    404, 20404, f"The requested resource /Messages/{sid}.json was not found"
                )
            return _json(200, _public(found))

    def _list(self, request: Request) -> Reply:
        query = dict(request.query)
        page_size = min(int(query.get("PageSize", 50)), PAGE_SIZE_MAX)
        page = int(query.get("Page", 0))
        with self._lock:
            found = [m for m in reversed(self._messages) if _matches(m, query)]
            found.sort(key=lambda m: m["_created"], reverse=True)  # newest first, stable
            chunk = found[page * page_size : (page + 1) * page_size]
            items = [_public(m) for m in chunk]
        base = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        filters = {k: v for k, v in query.items() if k not in ("Page", "PageSize", "PageToken")}

        def page_uri(number: int) -> str:
            return f"{base}?{urlencode({**filters, 'PageSize': page_size, 'Page': number})}"

        has_next = (page + 1) * page_size < len(found)
        return _json(
            200,
            {
                "messages": items,
                "page": page,
                "page_size": page_size,
                "first_page_uri": page_uri(0),
                "next_page_uri": page_uri(page + 1) if has_next else None,
                "previous_page_uri": page_uri(page - 1) if page > 0 else None,
                "uri": page_uri(page),
            },
        )

    def send_status_callback(self, sid: str, status: str = "delivered") -> httpx.Response:
        """POST a signed status callback for `sid` to its StatusCallback URL, as Twilio does."""
        with self._lock:
            message = next(m for m in self._messages if m["sid"] == sid)
            message["status"] = status
        url = message["status_callback"]
        if not url:
            raise ValueError("message has no StatusCallback")
        form = {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "From": message["from"],
            "MessageSid": sid,
            "MessageStatus": status,
            "SmsSid": sid,
            "SmsStatus": status,
            "To": message["to"],
        }
        headers = {"X-Twilio-Signature": twilio_signature(self.auth_token, url, form)}
        return httpx.post(url, data=form, headers=headers, timeout=5)


def _public(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if not k.startswith("_") and k != "status_callback"}


def _matches(message: dict[str, Any], query: dict[str, str]) -> bool:
    """Twilio's filters: To, From, DateSent (day or instant), DateSent< and DateSent> (inclusive)."""
    if "To" in query and message["to"] != query["To"]:
        return False
    if "From" in query and message["from"] != query["From"]:
        return False
    date_filters = {k: v for k, v in query.items() if k in ("DateSent", "DateSent<", "DateSent>")}
    if not date_filters:
        return True
    if message["date_sent"] is None:
        return False
    sent: datetime = message["_created"]
    for name, raw in date_filters.items():
        bound, is_day = _parse_filter_date(raw)
        value: date | datetime = sent.date() if is_day else sent
        if name == "DateSent" and value != bound:
            return False
        if name == "DateSent>" and value < bound:
            return False
        if name == "DateSent<" and value > bound:
            return False
    return True


def _parse_filter_date(raw: str) -> tuple[date | datetime, bool]:
    if "T" not in raw:
        return date.fromisoformat(raw), True
    return datetime.fromisoformat(raw.replace("Z", "+00:00")).astimezone(UTC), False
