"""A loopback Resend: POST /emails, POST /emails/batch, GET /emails/{id}, with Idempotency-Key."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections import Counter
from typing import Any

from tests.fakes import FakeServer, Reply, Request

_ADDRESS_RE = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[A-Za-z]{2,}$")
_NAMED_RE = re.compile(r"^[^<>]*<([^<>]+)>$")
MAX_BATCH = 100


def _json(status: int, payload: object, headers: dict[str, str] | None = None) -> Reply:
    return Reply(
        status,
        json.dumps(payload).encode(),
        {"Content-Type": "application/json", **(headers or {})},
    )


def _error(status: int, name: str, message: str, headers: dict[str, str] | None = None) -> Reply:
    """Resend's error shape: {statusCode, name, message}."""
    return _json(status, {"statusCode": status, "name": name, "message": message}, headers)


def _valid_address(value: object) -> bool:
    if not isinstance(value, str) or "invalid" in value.lower():
        return False
    named = _NAMED_RE.match(value.strip())
    return bool(_ADDRESS_RE.match(named.group(1).strip() if named else value.strip()))


class FakeResend(FakeServer):
    """Records every accepted email; idempotent per key like Resend (same body replays, other body 409)."""

    def __init__(self, api_key: str = "re_test_key", seed: int = 0) -> None:
        super().__init__(seed)
        self.api_key = api_key
        # Resend honours `x-batch-validation: permissive`; False plays a strict-only server.
        self.permissive_supported = True
        self._messages: list[dict[str, Any]] = []
        self._by_id: dict[str, dict[str, Any]] = {}
        self._idempotent: dict[str, tuple[str, Reply]] = {}

    @property
    def messages(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._messages)

    def count_by_recipient(self) -> Counter[str]:
        with self._lock:
            return Counter(to for m in self._messages for to in m["to"])

    def error_reply(self, status: int, retry_after: float | None = None) -> Reply:
        if status == 429:
            headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
            return _error(429, "rate_limit_exceeded", "Too many requests.", headers)
        if status >= 500:
            return _error(status, "application_error", "Internal server error.")
        return _error(status, "validation_error", "Injected failure.")

    def handle(self, request: Request) -> Reply:
        if request.header("Authorization") != f"Bearer {self.api_key}":
            if not request.header("Authorization"):
                return _error(
                    401, "missing_api_key", "Missing API key in the authorization header."
                )
            return _error(403, "invalid_api_key", "API key is invalid")
        if request.method == "GET" and request.path.startswith("/emails/"):
            return self._get(request.path.removeprefix("/emails/"))
        if request.method == "POST" and request.path in ("/emails", "/emails/batch"):
            return self._post(request)
        return _error(404, "not_found", "The requested endpoint does not exist.")

    def _get(self, email_id: str) -> Reply:
        with self._lock:
            message = self._by_id.get(email_id)
        if message is None:
            return _error(404, "not_found", "Email not found")
        return _json(200, {"object": "email", "last_event": "sent", **message})

    def _post(self, request: Request) -> Reply:
        try:
            payload = json.loads(request.body or b"null")
        except ValueError:
            return _error(400, "validation_error", "Invalid JSON body.")
        batch = request.path == "/emails/batch"
        items = payload if batch else [payload]
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            return _error(422, "validation_error", "Invalid request body.")
        if batch and not 1 <= len(items) <= MAX_BATCH:
            return _error(422, "validation_error", f"Batch must hold 1 to {MAX_BATCH} emails.")
        key = request.header("Idempotency-Key")
        fingerprint = hashlib.sha256(request.path.encode() + request.body).hexdigest()
        with (
            self._lock
        ):  # check, record and remember atomically: concurrent replays see one outcome
            if key is not None and key in self._idempotent:
                stored_fingerprint, stored_reply = self._idempotent[key]
                if stored_fingerprint != fingerprint:
                    return _error(
                        409,
                        "invalid_idempotent_request",
                        "Same idempotency key used with a different request payload.",
                    )
                return stored_reply
            permissive = (
                batch
                and self.permissive_supported
                and (request.header("x-batch-validation") or "").lower() == "permissive"
            )
            if permissive:
                errors = []
                ids = []
                for index, item in enumerate(items):
                    problem = self._validate([item])
                    if problem is None:
                        ids.append(self._record(item, key))
                    else:
                        errors.append(
                            {"index": index, "message": json.loads(problem.body)["message"]}
                        )
                body: dict[str, Any] = {"data": [{"id": i} for i in ids]}
                if errors:
                    body["errors"] = errors
                reply = _json(200, body)
            else:
                problem = self._validate(items)
                if problem is not None:
                    return problem
                ids = [self._record(item, key) for item in items]
                reply = _json(200, {"data": [{"id": i} for i in ids]} if batch else {"id": ids[0]})
            if key is not None:
                self._idempotent[key] = (fingerprint, reply)
            if self.accepted_then_500:
                return self.error_reply(500)
            return reply

    def _validate(self, items: list[dict[str, Any]]) -> Reply | None:
        """Strict validation: one bad email rejects the whole request, like Resend's default."""
        for item in items:
            for field in ("from", "to", "subject"):
                if not item.get(field):
                    return _error(422, "missing_required_field", f"Missing `{field}` field.")
            recipients = item["to"] if isinstance(item["to"], list) else [item["to"]]
            for to in recipients:
                if not _valid_address(to):
                    # Quotes the address on purpose: clients must redact provider messages.
                    return _error(
                        422,
                        "validation_error",
                        f"Invalid `to` field: {to}. The email address needs to follow the "
                        "`email@example.com` or `Name <email@example.com>` format.",
                    )
            if not _valid_address(item["from"]):
                return _error(422, "validation_error", "Invalid `from` field.")
        return None

    def _record(self, item: dict[str, Any], key: str | None) -> str:
        email_id = str(uuid.uuid4())
        message = {
            "id": email_id,
            "from": item["from"],
            "to": item["to"] if isinstance(item["to"], list) else [item["to"]],
            "subject": item.get("subject", ""),
            "html": item.get("html"),
            "text": item.get("text"),
            "headers": item.get("headers") or {},
            "tags": item.get("tags") or [],
            "idempotency_key": key,
            "created_at": self.clock().isoformat(),
        }
        self._messages.append(message)
        self._by_id[email_id] = message
        return email_id
