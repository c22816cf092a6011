"""The app module: starting it twice in one process (build, then serve) is quiet."""

from __future__ import annotations

import logging

import marketing_ui.marketing_ui as main


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_registering_the_same_pages_again_does_not_warn_once_per_page() -> None:
    seen = _Records()
    logger = logging.getLogger("reflex.app")
    logger.addHandler(seen)
    try:
        main.app._apply_decorated_pages()
        main.app._apply_decorated_pages()
        logger.warning("something else reflex says")
    finally:
        logger.removeHandler(seen)
    assert not [m for m in seen.messages if "redefined" in m]
    assert seen.messages == ["something else reflex says"]  # other warnings still get through
