"""The client address behind N trusted proxies; forged X-Forwarded-For entries never win."""

from __future__ import annotations

import pytest

from marketing_ui.core.client_ip import client_ip

PEER = "10.0.0.2"  # the proxy (or the client itself) that opened the connection


@pytest.mark.parametrize(
    ("hops", "forwarded", "expected"),
    [
        (0, None, PEER),
        (0, "203.0.113.7", PEER),  # no proxy configured: the header is the client's own words
        (1, None, PEER),
        (1, "", PEER),
        (1, "203.0.113.7", "203.0.113.7"),
        (1, "203.0.113.7, 198.51.100.1", "198.51.100.1"),
        (2, "203.0.113.7, 198.51.100.1", "203.0.113.7"),
        (2, "198.51.100.1", PEER),  # fewer entries than proxies: not through the whole chain
        (1, " 2001:db8::1 ", "2001:db8::1"),
        (1, "not-an-ip", PEER),  # a misconfigured hop count must not hand the key to the client
    ],
)
def test_client_ip(hops: int, forwarded: str | None, expected: str) -> None:
    assert client_ip(PEER, forwarded, hops=hops) == expected


@pytest.mark.parametrize(
    "spoofed",
    ["1.1.1.1", "1.1.1.1, 2.2.2.2", "127.0.0.1,10.0.0.1, 8.8.8.8", ",,, 9.9.9.9"],
)
def test_addresses_written_by_the_client_are_ignored(spoofed: str) -> None:
    """The client sends any X-Forwarded-For it likes; each trusted proxy appends what it saw."""
    real = "203.0.113.50"
    one_proxy = f"{spoofed}, {real}"
    assert client_ip(PEER, one_proxy, hops=1) == real
    two_proxies = f"{spoofed}, {real}, 198.51.100.9"
    assert client_ip(PEER, two_proxies, hops=2) == real
    assert client_ip(PEER, spoofed, hops=0) == PEER


def test_the_setting_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    from marketing_ui.core.config import reset_settings_cache

    monkeypatch.setenv("TRUSTED_PROXY_HOPS", "1")
    reset_settings_cache()
    assert client_ip(PEER, "1.1.1.1, 203.0.113.7") == "203.0.113.7"
    monkeypatch.setenv("TRUSTED_PROXY_HOPS", "0")
    reset_settings_cache()
    assert client_ip(PEER, "1.1.1.1, 203.0.113.7") == PEER
