"""Looks every page shares, defined once: a page imports them rather than restating them."""

from __future__ import annotations

import reflex as rx

MUTED = rx.color("gray", 11)  # secondary text: hints, labels, dates, empty states
