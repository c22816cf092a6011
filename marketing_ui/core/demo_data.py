"""First-run seed: an admin and a staff account plus a small, fictional demo audience."""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import func, select
from sqlmodel import Session

from marketing_ui.core import audit
from marketing_ui.core.auth import create_user
from marketing_ui.core.campaigns import create_campaign
from marketing_ui.core.clock import utcnow
from marketing_ui.core.config import get_settings
from marketing_ui.core.crypto import random_token
from marketing_ui.core.customers import CustomerInput, create_customer
from marketing_ui.core.models import Customer, Role, User
from marketing_ui.core.segments import create_segment
from marketing_ui.core.tags import ensure_tags, set_tag_color

FIRST_LOGIN_FILE = "first-login.txt"
FIRST_NAMES = [
    "Ava",
    "Ben",
    "Chloe",
    "Dan",
    "Ella",
    "Finn",
    "Grace",
    "Hugo",
    "Isla",
    "Jack",
    "Kira",
    "Leo",
    "Maya",
    "Noah",
    "Olive",
    "Paul",
    "Quinn",
    "Rosa",
    "Sam",
    "Tara",
]
LAST_NAMES = [
    "Adams",
    "Brown",
    "Clark",
    "Davis",
    "Evans",
    "Ford",
    "Green",
    "Hill",
    "Irwin",
    "Jones",
]
TAGS = {
    "regular": "grass",
    "vip": "amber",
    "lunch": "blue",
    "dinner": "purple",
    "newsletter": "cyan",
}


def seed_demo(session: Session, admin_password: str | None = None, customers: int = 40) -> str:
    """Create accounts and demo customers once; returns the first-run message ('' if seeded)."""
    if session.execute(select(func.count(User.id))).scalar_one():
        return ""
    password = admin_password or random_token(9)
    staff_password = random_token(9)
    with audit.summarised():
        create_user(session, "admin", password, Role.ADMIN)
        create_user(session, "counter", staff_password, Role.STAFF)
        demo = not session.execute(select(func.count(Customer.id))).scalar_one()
        if demo:
            tag_ids = _demo_customers(session, customers)
            _demo_segment_and_campaign(session, tag_ids)
    what = f"admin and counter accounts{f', {customers} demo customers, a segment and a campaign' if demo else ''}"
    audit.record(session, "setup.first_run", "user", None, what)
    session.commit()
    message = (
        f"First-run login: admin / {password}  (counter staff: counter / {staff_password})\n"
        "Change them with: python -m marketing_ui.cli set-password NAME"
    )
    path = get_settings().data_dir / FIRST_LOGIN_FILE
    path.write_text(message + "\n")
    path.chmod(0o600)
    return message


def _demo_segment_and_campaign(session: Session, tag_ids: dict[str, int]) -> None:
    """A saved segment and a draft from the seed's own example, ready to preview and send."""
    create_segment(
        session,
        "VIP email subscribers",
        {
            "op": "and",
            "rules": [
                {"type": "tags", "mode": "any", "tags": [tag_ids["vip"]]},
                {"type": "consent", "channel": "email", "value": True},
            ],
        },
    )
    create_campaign(
        session,
        "Monday special",
        template_name="monday_special",
        has_qr_code=True,
        offer_text="Free dessert with any main course",
        offer_expires_at=utcnow() + timedelta(days=14),
    )


def _demo_customers(session: Session, count: int) -> dict[str, int]:
    rng = random.Random(7)
    tag_ids = ensure_tags(session, TAGS)
    for name, color in TAGS.items():
        set_tag_color(session, tag_ids[name], color)
    for i in range(count):
        first, last = FIRST_NAMES[i % len(FIRST_NAMES)], LAST_NAMES[(i * 3) % len(LAST_NAMES)]
        create_customer(
            session,
            CustomerInput(
                first_name=first,
                last_name=last,
                email=f"{first.lower()}.{last.lower()}{i}@example.com",
                phone=f"+1202555{100 + i:04d}",
                email_consent=rng.random() < 0.8,
                sms_consent=rng.random() < 0.5,
                tag_ids=rng.sample(sorted(tag_ids.values()), k=rng.randint(0, 2)),
            ),
            source="import",
            note="demo data",
        )
    return tag_ids
