"""Reflex configuration; ports and URLs come from the environment (see README)."""

import os

import reflex as rx
from reflex.plugins.sitemap import SitemapPlugin

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
)
