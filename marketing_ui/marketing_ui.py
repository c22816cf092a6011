"""The Reflex app: theme, pages and the public HTTP endpoints on the backend."""

import reflex as rx

from marketing_ui.api.app import build_api
from marketing_ui.pages import dashboard, login, settings  # noqa: F401  (registers pages)

app = rx.App(
    theme=rx.theme(appearance="light", accent_color="indigo", radius="medium"),
    api_transformer=build_api(),
)
