"""Tags: the labels customers carry and segments target. Functions flush; the caller commits."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlmodel import Session

from marketing_ui.core import audit
from marketing_ui.core.models import CustomerTag, Tag

# Radix colour names, so the UI can pass them straight to a badge's color_scheme.
TAG_COLORS: tuple[str, ...] = (
    "gray",
    "tomato",
    "red",
    "crimson",
    "pink",
    "plum",
    "purple",
    "violet",
    "indigo",
    "blue",
    "cyan",
    "teal",
    "green",
    "grass",
    "orange",
    "brown",
    "amber",
    "yellow",
    "lime",
    "mint",
    "sky",
)
MAX_TAG_NAME = 80


@dataclass(frozen=True)
class TagCount:
    """A tag with how many customers carry it, for the tag list and filter menus."""

    id: int
    name: str
    color: str
    customers: int


def _clean_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise ValueError("A tag needs a name.")
    if len(name) > MAX_TAG_NAME:
        raise ValueError(f"A tag name can have at most {MAX_TAG_NAME} characters.")
    return name


def _check_color(color: str) -> str:
    if color not in TAG_COLORS:
        raise ValueError(f"Unknown colour {color!r}; pick one of: {', '.join(TAG_COLORS)}.")
    return color


def _name_taken(session: Session, name: str, except_id: int | None = None) -> bool:
    query = select(Tag.id).where(func.lower(Tag.name) == name.lower())
    if except_id is not None:
        query = query.where(Tag.id != except_id)
    return session.execute(query.limit(1)).first() is not None


def _get(session: Session, tag_id: int) -> Tag:
    tag = session.get(Tag, tag_id)
    if tag is None:
        raise LookupError(f"Tag #{tag_id} does not exist.")
    return tag


def create_tag(session: Session, name: str, color: str = "gray") -> Tag:
    """Names are unique ignoring case, so "VIP" and "vip" never split one audience in two."""
    name = _clean_name(name)
    if _name_taken(session, name):
        raise ValueError(f"A tag named {name!r} already exists.")
    tag = Tag(name=name, color=_check_color(color))
    session.add(tag)
    session.flush()
    audit.record(session, "tag.create", "tag", tag.id, f"named {name!r}")
    return tag


def rename_tag(session: Session, tag_id: int, name: str) -> Tag:
    tag = _get(session, tag_id)
    name = _clean_name(name)
    if _name_taken(session, name, except_id=tag_id):
        raise ValueError(f"A tag named {name!r} already exists.")
    old, tag.name = tag.name, name
    audit.record(session, "tag.rename", "tag", tag_id, f"{old!r} to {name!r}")
    session.flush()
    return tag


def set_tag_color(session: Session, tag_id: int, color: str) -> Tag:
    tag = _get(session, tag_id)
    tag.color = _check_color(color)
    audit.record(session, "tag.color", "tag", tag_id, f"colour {tag.color}")
    session.flush()
    return tag


def tag_usage(session: Session, tag_id: int) -> int:
    """How many customers would lose this tag; shown in the delete confirmation."""
    query = select(func.count()).select_from(CustomerTag).where(CustomerTag.tag_id == tag_id)
    return int(session.execute(query).scalar_one())


def delete_tag(session: Session, tag_id: int) -> int:
    """Deletes the tag and its links; returns how many customers carried it."""
    _get(session, tag_id)
    affected = tag_usage(session, tag_id)
    session.execute(delete(CustomerTag).where(CustomerTag.tag_id == tag_id))
    session.execute(delete(Tag).where(Tag.id == tag_id))
    audit.record(session, "tag.delete", "tag", tag_id, f"removed from {affected} customers")
    session.flush()
    return affected


def list_tags_with_counts(session: Session) -> list[TagCount]:
    """One grouped query, so the tag page costs the same with 10 or 10 million links."""
    counts = (
        select(CustomerTag.tag_id, func.count().label("n")).group_by(CustomerTag.tag_id).subquery()
    )
    query = (
        select(Tag.id, Tag.name, Tag.color, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.tag_id == Tag.id)
        .order_by(func.lower(Tag.name))
    )
    return [TagCount(*row) for row in session.execute(query)]


def ensure_tags(session: Session, names: Iterable[str]) -> dict[str, int]:
    """Ids keyed by lowercased name, creating missing tags; imports name tags in any case."""
    wanted: dict[str, str] = {}
    for raw in names:
        if raw.strip():
            name = _clean_name(raw)
            wanted.setdefault(name.lower(), name)
    if not wanted:
        return {}
    found: dict[str, int] = {}
    query = select(Tag.id, Tag.name).where(func.lower(Tag.name).in_(list(wanted)))
    for tag_id, name in session.execute(query):
        found[name.lower()] = tag_id
    for key, name in wanted.items():
        if key not in found:
            tag = Tag(name=name, color="gray")
            session.add(tag)
            session.flush()
            found[key] = tag.id  # type: ignore[assignment]
    return {key: found[key] for key in wanted}


def choices(session: Session, limit: int = 200) -> list[tuple[int, str]]:
    """(id, name) of tags by name, for a picker."""
    rows = session.execute(select(Tag.id, Tag.name).order_by(Tag.name).limit(limit))
    return [(int(i), str(n)) for i, n in rows]
