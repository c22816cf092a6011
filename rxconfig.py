"""Reflex configuration; ports and URLs come from the environment (see README).

Page state lives in Redis whenever the app has one (always, when started by scripts/run.sh),
sealed by `marketing_ui.state.sealed_storage`, and expires an hour after its last event.
Without Redis it stays in memory: never in a `.states/` folder on disk.
"""

import os

import reflex as rx
from reflex.plugins.sitemap import SitemapPlugin

from marketing_ui.core.config import get_settings

_settings = get_settings()
_redis_url = _settings.redis_url or None

config = rx.Config(
    app_name="marketing_ui",
    telemetry_enabled=False,
    show_built_with_reflex=False,
    disable_plugins=[SitemapPlugin],
    plugins=[
        rx.plugins.RadixThemesPlugin(
            theme=rx.theme(appearance="light", accent_color="indigo", radius="medium")
        )
    ],
    frontend_port=int(os.environ.get("FRONTEND_PORT", "3000")),
    backend_port=int(os.environ.get("BACKEND_PORT", "8000")),
    redis_url=_redis_url,
    state_manager_mode="redis" if _redis_url else "memory",
    redis_token_expiration=3600,
    trusted_proxy_hops=_settings.trusted_proxy_hops,
)
