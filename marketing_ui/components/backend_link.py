"""Absolute links to the Reflex backend's own HTTP endpoints (a different port in development)."""

from __future__ import annotations

import reflex as rx
from reflex_components_core.core.upload import uploaded_files_url_prefix


def backend_url(path: rx.Var | str) -> rx.Var:
    """`path` (starting with /) on the backend origin the browser already talks to."""
    origin = rx.Var(
        _js_expr=f"new URL({uploaded_files_url_prefix!s}).origin",
        _var_data=uploaded_files_url_prefix._get_all_var_data(),
    ).to(str)
    return origin + path
