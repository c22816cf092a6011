"""The client's address behind TRUSTED_PROXY_HOPS reverse proxies (rate limits key on it).

Each proxy appends the address it received the request from to X-Forwarded-For, so with N
trusted proxies the N-th entry from the right is the one the outermost trusted proxy saw: the
real client. Anything further left was written by the client and is ignored. This is the rule
Reflex applies to `router.session.client_ip` with `rx.Config(trusted_proxy_hops=N)`, so HTTP
endpoints and websocket events agree on who the client is.
"""

from __future__ import annotations

import ipaddress

from marketing_ui.core.config import get_settings


def client_ip(peer_ip: str, x_forwarded_for: str | None, hops: int | None = None) -> str:
    """The client address: the N-th address from the right of X-Forwarded-For, else the peer.

    `x_forwarded_for` is every X-Forwarded-For header of the request joined with ", ".
    `hops` defaults to the TRUSTED_PROXY_HOPS setting. With 0 hops, or when the header has
    fewer addresses than there are proxies (the request did not come through all of them) or
    the chosen entry is not an IP address (a misconfigured hop count), the peer address is the
    only one that cannot be forged.
    """
    hops = get_settings().trusted_proxy_hops if hops is None else hops
    if hops <= 0 or not x_forwarded_for:
        return peer_ip
    forwarded = [part.strip() for part in x_forwarded_for.split(",") if part.strip()]
    if len(forwarded) < hops:
        return peer_ip
    candidate = forwarded[-hops]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return peer_ip
