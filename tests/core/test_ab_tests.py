"""A/B tests: the first freeze takes the test share with variants dealt evenly; the decision picks
the winner by clicks or redemptions and freezes the rest exactly once (even with two deciders at
once); the owner may pick by hand; each delivery renders its variant; bad settings are refused by
field; the statistics match known values."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from marketing_ui.core import ab_tests, sending
from marketing_ui.core.ab_tests import AbSettings, AbTestError, VariantDraft
from marketing_ui.core.analytics import export, parse_filters
from marketing_ui.core.analytics.ab import ab_report
from marketing_ui.core.analytics.stats import two_proportion_z_test, wilson_interval
from marketing_ui.core.app_settings import business_identity, update_frequency_cap
from marketing_ui.core.clock import utcnow
from marketing_ui.core.models import (
    AuditEntry,
    Campaign,
    CampaignVariant,
    Coupon,
    Delivery,
    DeliveryStatus,
    Event,
    SkipReason,
)
from marketing_ui.core.rendering import load_template
from marketing_ui.core.sending import ab_decision, compose
from marketing_ui.core.sending.claim import Claimed
from tests.workers.sending_harness import make_campaign, seed_customers, send_settings


@pytest.fixture
def env(engine: Engine, redis_client: object) -> Iterator[Session]:
    with send_settings(engine, None, None), Session(engine) as session:
        yield session


def _variant(label: str, **fields: str) -> VariantDraft:
    base = {"subject": f"Subject {label}", "mjml_body": "", "offer_text": ""}
    return VariantDraft(label, **(base | fields))


def _campaign_with_test(
    session: Session,
    labels: str = "AB",
    percent: int = 50,
    metric: str = "clicks",
    channel: str = "email",
    **fields: object,
) -> int:
    campaign_id = make_campaign(session, channel=channel, subject="Subject A", **fields)
    campaign = session.get(Campaign, campaign_id)
    assert campaign is not None
    others = [
        VariantDraft(
            label,
            subject=f"Subject {label}",
            mjml_body=campaign.mjml_body,
            sms_body=f"SMS {label}",
            offer_text=f"Offer {label}",
        )
        for label in labels[1:]
    ]
    ab_tests.save_test(session, campaign_id, AbSettings(percent, metric, 4), others)
    return campaign_id


def _deliveries(session: Session, campaign_id: int) -> list[Delivery]:
    session.expire_all()
    return list(
        session.execute(select(Delivery).where(Delivery.campaign_id == campaign_id)).scalars()
    )


def _labels(session: Session, campaign_id: int) -> dict[int, str]:
    return {v.id: v.label for v in ab_tests.variants(session, campaign_id)}  # type: ignore[misc]


def _mark_sent(session: Session, campaign_id: int) -> None:
    session.execute(
        update(Delivery)
        .where(Delivery.campaign_id == campaign_id, Delivery.status == DeliveryStatus.PENDING)
        .values(status=DeliveryStatus.SENT.value, sent_at=utcnow())
    )
    session.commit()


def _window_over(session: Session, campaign_id: int) -> None:
    session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id)
        .values(sent_at=utcnow() - timedelta(hours=5))
    )
    session.commit()


def test_the_first_freeze_takes_the_test_share_and_deals_variants_evenly(env: Session) -> None:
    seed_customers(env, 240)
    campaign_id = _campaign_with_test(env, labels="ABC", percent=30)

    result = sending.start_send(env, campaign_id)

    rows = _deliveries(env, campaign_id)
    assert 40 <= len(rows) <= 110  # 30% of 240 = 72, binomial sd 7: far outside is a bug
    sizes = Counter(_labels(env, campaign_id)[d.variant_id] for d in rows)  # type: ignore[index]
    assert set(sizes) == {"A", "B", "C"}
    assert max(sizes.values()) - min(sizes.values()) <= 1
    assert "A/B test (3 variants)" in result.message
    campaign = env.get(Campaign, campaign_id)
    assert campaign is not None
    assert (campaign.status, campaign.ab_phase) == ("sending", "testing")
    _mark_sent(env, campaign_id)  # the test share is all out: the campaign is not done
    assert sending.finish_if_done(env, campaign_id) is None
    assert ab_decision.decide_due(env) == []  # the window (4 h) has not passed


def test_a_customer_on_both_channels_gets_one_draw_and_one_variant(env: Session) -> None:
    seed_customers(env, 120, sms=True)
    campaign_id = _campaign_with_test(env, percent=40, channel="both")

    sending.start_send(env, campaign_id)

    by_customer: dict[int, set[tuple[str, int | None]]] = {}
    for d in _deliveries(env, campaign_id):
        by_customer.setdefault(d.customer_id, set()).add((d.channel, d.variant_id))
    assert by_customer, "somebody must be drawn"
    for got in by_customer.values():
        assert {ch for ch, _ in got} == {"email", "sms"}
        assert len({v for _, v in got}) == 1


def test_the_decision_by_clicks_picks_the_best_and_freezes_the_rest_once(env: Session) -> None:
    customers = seed_customers(env, 80)
    campaign_id = _campaign_with_test(env, percent=50)
    sending.start_send(env, campaign_id)
    _mark_sent(env, campaign_id)
    labels = _labels(env, campaign_id)
    test = _deliveries(env, campaign_id)
    in_b = [d for d in test if labels[d.variant_id] == "B"]  # type: ignore[index]
    in_a = [d for d in test if labels[d.variant_id] == "A"]  # type: ignore[index]
    for d in in_b[:6] + in_a[:2]:
        for _ in range(3):  # repeated clicks by one person count once
            env.add(Event(campaign_id=campaign_id, delivery_id=d.id, type="clicked"))
    env.commit()
    _window_over(env, campaign_id)

    [decision] = ab_decision.decide_due(env)

    winner = next(i for i, lbl in labels.items() if lbl == "B")
    assert decision.variant_id == winner
    rows = _deliveries(env, campaign_id)
    assert sorted(d.customer_id for d in rows) == sorted(customers)  # everyone, once
    rest = [d for d in rows if d.id not in {t.id for t in test}]
    assert len(rest) == decision.added == 80 - len(test)
    assert {d.variant_id for d in rest} == {winner}
    assert {d.status for d in rest} == {"pending"}
    campaign = env.get(Campaign, campaign_id)
    assert campaign is not None
    assert (campaign.ab_phase, campaign.ab_winner_variant_id) == ("decided", winner)
    assert ab_decision.decide_due(env) == []  # a re-run is harmless
    assert len(_deliveries(env, campaign_id)) == 80
    report = ab_report(env, campaign)
    [a, b] = report.variants
    assert (b.clickers, a.clickers, b.is_winner, b.is_best) == (6, 2, True, True)
    assert a.delivered + b.delivered == len(test)  # the rest is not in the comparison
    columns, csv_rows = export.export_table(env, "ab", parse_filters(), campaign_id)  # type: ignore[misc]
    assert columns[:4] == ["variant", "delivered", "unique_clickers", "click_rate"]
    assert [r[0] for r in csv_rows] == ["A", "B"] and csv_rows[1][2] == 6
    assert csv_rows[1][-1] == "yes" and csv_rows[0][-2] == a.verdict


def test_the_decision_by_redemptions_counts_redeemed_coupons(env: Session) -> None:
    seed_customers(env, 60)
    campaign_id = _campaign_with_test(
        env, labels="ABC", percent=50, metric="redemptions", has_qr_code=True
    )
    sending.start_send(env, campaign_id)
    _mark_sent(env, campaign_id)
    labels = _labels(env, campaign_id)
    test = _deliveries(env, campaign_id)
    in_c = [d.id for d in test if labels[d.variant_id] == "C"]  # type: ignore[index]
    in_a = [d for d in test if labels[d.variant_id] == "A"]  # type: ignore[index]
    env.execute(update(Coupon).where(Coupon.delivery_id.in_(in_c[:3])).values(status="redeemed"))
    for d in in_a[:5]:  # clicks do not decide this test
        env.add(Event(campaign_id=campaign_id, delivery_id=d.id, type="clicked"))
    env.commit()
    _window_over(env, campaign_id)

    [decision] = ab_decision.decide_due(env)

    assert labels[decision.variant_id] == "C"
    coupons = env.execute(
        select(func.count()).select_from(Coupon).where(Coupon.campaign_id == campaign_id)
    ).scalar_one()
    assert coupons == 60  # the rest got coupons too


def test_a_tie_or_no_data_keeps_variant_a(env: Session) -> None:
    seed_customers(env, 20)
    campaign_id = _campaign_with_test(env, percent=50)
    sending.start_send(env, campaign_id)
    _mark_sent(env, campaign_id)
    _window_over(env, campaign_id)

    [decision] = ab_decision.decide_due(env)

    assert _labels(env, campaign_id)[decision.variant_id] == "A"
    assert "No clicks yet" in decision.why


def test_two_deciders_at_once_freeze_the_rest_exactly_once(engine: Engine, env: Session) -> None:
    seed_customers(env, 30)
    campaign_id = _campaign_with_test(env, percent=30)
    sending.start_send(env, campaign_id)
    _window_over(env, campaign_id)
    barrier = threading.Barrier(2)
    results: list[list[ab_decision.Decision]] = []

    def decide() -> None:
        with Session(engine) as s:
            barrier.wait()
            results.append(ab_decision.decide_due(s))

    threads = [threading.Thread(target=decide) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(len(r) for r in results) == [0, 1]
    assert len(_deliveries(env, campaign_id)) == 30
    audits = env.execute(
        select(func.count()).where(
            AuditEntry.action == "campaign.ab_winner", AuditEntry.object_id == str(campaign_id)
        )
    ).scalar_one()
    assert audits == 1


def test_the_owner_picks_the_winner_by_hand_before_the_window_ends(env: Session) -> None:
    seed_customers(env, 30)
    campaign_id = _campaign_with_test(env, labels="ABC", percent=40)
    sending.start_send(env, campaign_id)

    decision = ab_decision.pick_by_hand(env, campaign_id, "C")

    assert _labels(env, campaign_id)[decision.variant_id] == "C"
    assert len(_deliveries(env, campaign_id)) == 30
    _window_over(env, campaign_id)
    assert ab_decision.decide_due(env) == []
    with pytest.raises(sending.SendError, match="no A/B test waiting"):
        ab_decision.pick_by_hand(env, campaign_id, "B")
    entry = env.execute(
        select(AuditEntry.summary).where(AuditEntry.action == "campaign.ab_winner")
    ).scalar_one()
    assert entry.startswith("Variant C picked by hand.")


def test_the_frequency_cap_applies_at_the_decision_freeze(env: Session) -> None:
    customers = seed_customers(env, 40)
    campaign_id = _campaign_with_test(env, percent=25)
    sending.start_send(env, campaign_id)
    drawn = {d.customer_id for d in _deliveries(env, campaign_id)}
    waiting = [c for c in customers if c not in drawn]
    update_frequency_cap(env, {"email_max": "1", "sms_max": "1", "window_days": "7"})
    other = make_campaign(env)
    env.add(
        Delivery(campaign_id=other, customer_id=waiting[0], channel="email", status="sent",
                 sent_at=utcnow())
    )  # fmt: skip
    env.commit()

    ab_decision.pick_by_hand(env, campaign_id, "B")

    row = next(d for d in _deliveries(env, campaign_id) if d.customer_id == waiting[0])
    assert (row.status, row.skip_reason) == ("skipped", SkipReason.FREQUENCY_CAP.value)


def test_each_delivery_renders_its_variant_subject_body_and_offer(env: Session) -> None:
    seed_customers(env, 30, sms=True)
    body = load_template("blank").replace(
        "</mj-body>",
        "<mj-section><mj-column><mj-text>Offer: {{ offer_text }}</mj-text></mj-column>"
        "</mj-section></mj-body>",
    )
    campaign_id = make_campaign(
        env, channel="both", subject="Subject A", mjml_body=body, sms_body="SMS A {{ offer_text }}",
        offer_text="Offer A",
    )  # fmt: skip
    ab_tests.save_test(
        env, campaign_id, AbSettings(50, "clicks", 2),
        [VariantDraft("B", "Subject B", "", body.replace("Offer:", "Deal:"), "SMS B {{ offer_text }}",
                      "Offer B")],
    )  # fmt: skip
    sending.start_send(env, campaign_id)
    ab_decision.pick_by_hand(env, campaign_id, "B")
    campaign = env.get(Campaign, campaign_id)
    assert campaign is not None
    labels = _labels(env, campaign_id)
    rows = _deliveries(env, campaign_id)
    business = business_identity(env)
    for channel in ("email", "sms"):
        claimed = [
            Claimed(d.id, d.customer_id, 1, None, "", utcnow())  # type: ignore[arg-type]
            for d in rows
            if d.channel == channel
        ]
        recipients = list(compose.load_recipients(env, channel, claimed).values())
        if channel == "email":
            messages, errors = compose.email_messages(env, campaign, recipients, business)
            assert errors == {}
            for m in messages:
                label = labels[next(d.variant_id for d in rows if f"d{d.id}" == m.key)]  # type: ignore[index]
                assert m.subject == f"Subject {label}"
                assert f"Offer {label}" in m.html
                assert ("Deal:" in m.html) == (label == "B")
        else:
            bodies, errors = compose.sms_bodies(env, campaign, recipients, business)
            assert errors == {}
            for delivery_id, text in bodies.items():
                label = labels[next(d.variant_id for d in rows if d.id == delivery_id)]  # type: ignore[index]
                assert text.startswith(f"SMS {label} Offer {label}")
    assert {labels[d.variant_id] for d in rows} == {"A", "B"}  # type: ignore[index]


@pytest.mark.parametrize(
    ("settings", "variants", "field", "words"),
    [
        (AbSettings(51, "clicks", 4), "AB", "ab_percent", "between 0 and 50"),
        (AbSettings(-1, "clicks", 4), "AB", "ab_percent", "between 0 and 50"),
        (AbSettings(20, "clicks", 0), "AB", "ab_window", "at least 1 hour"),
        (AbSettings(20, "clicks", 4), "A", "ab_variants", "at least 2 variants"),
        (AbSettings(20, "redemptions", 4), "AB", "ab_metric", "needs a QR offer"),
        (AbSettings(20, "opens", 4), "AB", "ab_metric", "clicks or redemptions"),
    ],
)
def test_bad_settings_are_refused_by_field_and_nothing_changes(
    env: Session, settings: AbSettings, variants: str, field: str, words: str
) -> None:
    campaign_id = make_campaign(env, subject="Subject A")
    ab_tests.save_test(env, campaign_id, AbSettings(10, "clicks", 6), [_variant("B")])

    with pytest.raises(AbTestError, match=words) as caught:
        ab_tests.save_test(env, campaign_id, settings, [_variant(x) for x in variants[1:]])

    assert caught.value.field == field
    env.expire_all()
    campaign = env.get(Campaign, campaign_id)
    assert campaign is not None
    assert (campaign.ab_test_percent, campaign.ab_window_hours) == (10, 6)
    assert [v.label for v in ab_tests.variants(env, campaign_id)] == ["A", "B"]


def test_identical_variants_are_refused_naming_the_copy(env: Session) -> None:
    campaign_id = make_campaign(env, subject="Subject A")
    campaign = env.get(Campaign, campaign_id)
    assert campaign is not None
    same = ab_tests.draft_of(campaign, "B")
    with pytest.raises(AbTestError, match="Variant B is the same as A") as caught:
        ab_tests.save_test(env, campaign_id, AbSettings(20, "clicks", 4), [same])
    assert caught.value.field == "variant_B"
    # A change only in the SMS text of an email campaign is no difference either
    sms_only = VariantDraft("B", campaign.subject, "", campaign.mjml_body, "other SMS")
    with pytest.raises(AbTestError, match="Variant B is the same as A"):
        ab_tests.save_test(env, campaign_id, AbSettings(20, "clicks", 4), [sms_only])
    # Editing A into B's copy after saving is caught at the start
    ab_tests.save_test(
        env, campaign_id, AbSettings(20, "clicks", 4), [_variant("B", mjml_body=campaign.mjml_body)]
    )
    env.execute(update(Campaign).where(Campaign.id == campaign_id).values(subject="Subject B"))
    env.commit()
    with pytest.raises(sending.SendError, match="Variant B is the same as A"):
        sending.start_send(env, campaign_id)
    assert env.execute(select(func.count()).select_from(Delivery)).scalar_one() == 0
    assert env.execute(select(func.count()).select_from(CampaignVariant)).scalar_one() == 2


def test_parse_settings_names_the_field_of_junk() -> None:
    with pytest.raises(AbTestError) as caught:
        ab_tests.parse_settings("ten", "clicks", "4")
    assert caught.value.field == "ab_percent"
    with pytest.raises(AbTestError) as caught:
        ab_tests.parse_settings("10", "clicks", "4.5h")
    assert caught.value.field == "ab_window"
    assert ab_tests.parse_settings(" 20% ", "clicks", "6") == AbSettings(20, "clicks", 6)


def test_wilson_interval_matches_known_values() -> None:
    got = wilson_interval(81, 263)  # Wilson's own worked example (Wallis 2013)
    assert (round(got.low, 4), round(got.high, 4)) == (0.2553, 0.3662)
    zero = wilson_interval(0, 10)
    assert (zero.low, round(zero.high, 4)) == (0.0, 0.2775)
    assert wilson_interval(0, 0).high == 0.0


def test_two_proportion_z_test_matches_known_values() -> None:
    t = two_proportion_z_test(30, 100, 20, 100)  # z = 0.1 / sqrt(.25 * .75 * .02)
    assert (round(t.z, 4), round(t.p_value, 4), t.significant) == (1.633, 0.1025, False)
    t = two_proportion_z_test(60, 200, 35, 200)  # pooled 0.2375: z = 0.125 / 0.042556
    assert (round(t.z, 3), round(t.p_value, 4), t.significant) == (2.937, 0.0033, True)
    assert two_proportion_z_test(0, 50, 0, 50).p_value == 1.0


def test_a_test_with_a_holdout_holds_out_in_both_the_test_share_and_the_rest(
    env: Session,
) -> None:
    """Holdout 30% and a 40% test: the test share and the rest each keep about 30% unmessaged;
    no held-out customer is ever given a variant's message, and everyone is frozen once."""
    customers = seed_customers(env, 400)
    campaign_id = _campaign_with_test(env, percent=40)
    env.execute(update(Campaign).where(Campaign.id == campaign_id).values(holdout_percent=30))
    env.commit()
    sending.start_send(env, campaign_id)
    test = _deliveries(env, campaign_id)
    held_in_test = [d for d in test if d.skip_reason == "holdout"]
    assert 0.15 * len(test) <= len(held_in_test) <= 0.45 * len(test)
    _mark_sent(env, campaign_id)
    _window_over(env, campaign_id)

    [decision] = ab_decision.decide_due(env)

    rows = _deliveries(env, campaign_id)
    assert sorted(d.customer_id for d in rows) == sorted(customers)  # everyone, once
    rest = [d for d in rows if d.id not in {t.id for t in test}]
    held_in_rest = [d for d in rest if d.skip_reason == "holdout"]
    assert 0.15 * len(rest) <= len(held_in_rest) <= 0.45 * len(rest)
    assert {d.status for d in held_in_test + held_in_rest} == {"skipped"}
    assert {d.status for d in rest if d.skip_reason != "holdout"} == {"pending"}
    assert decision.added == len(rest)


def test_the_progress_page_says_the_rest_waits_for_the_winner_and_then_who_won(
    env: Session, redis_client: object
) -> None:
    from marketing_ui.core.redis_client import get_redis
    from marketing_ui.core.sending import live

    seed_customers(env, 20)
    campaign_id = _campaign_with_test(env, labels="AB", percent=40)
    sending.start_send(env, campaign_id)
    _mark_sent(env, campaign_id)

    waiting = sending.progress(env, campaign_id)
    assert waiting is not None and waiting.ab_waiting and waiting.remaining == 0
    assert "test share (40% of the audience)" in waiting.ab_note
    assert "unique human clicks per recipient wins" in waiting.ab_note
    campaign = env.get(Campaign, campaign_id)
    assert campaign is not None and campaign.sent_at is not None
    assert f"{campaign.sent_at + timedelta(hours=4):%Y-%m-%d %H:%M} UTC" in waiting.ab_note

    ab_decision.pick_by_hand(env, campaign_id, "B")
    get_redis().delete(live.key(campaign_id, "progress"))  # the page's one-second cache
    decided = sending.progress(env, campaign_id)
    assert decided is not None and not decided.ab_waiting
    pending = [d for d in _deliveries(env, campaign_id) if d.status == DeliveryStatus.PENDING]
    assert "variant B won" in decided.ab_note and decided.remaining == len(pending) > 0


def test_a_copy_of_a_campaign_keeps_its_test_and_variants_but_not_its_result(
    env: Session,
) -> None:
    from marketing_ui.core.campaigns import duplicate_campaign

    seed_customers(env, 10)
    campaign_id = _campaign_with_test(env, labels="ABC", percent=30, metric="clicks")
    sending.start_send(env, campaign_id)
    ab_decision.pick_by_hand(env, campaign_id, "C")

    copy = duplicate_campaign(env, campaign_id)

    assert (copy.ab_test_percent, copy.ab_metric, copy.ab_window_hours) == (30, "clicks", 4)
    assert copy.ab_phase == "" and copy.ab_winner_variant_id is None
    copied = {v.label: v.subject for v in ab_tests.variants(env, copy.id)}  # type: ignore[arg-type]
    assert copied == {"A": "Subject A", "B": "Subject B", "C": "Subject C"}
    assert [d.label for d in ab_tests.drafts(env, copy)] == ["A", "B", "C"]
