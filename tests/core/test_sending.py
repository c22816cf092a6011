"""The "send a test" box: how typed recipients are split, classified and refused."""

from __future__ import annotations

import pytest

from marketing_ui.core.models import Channel
from marketing_ui.core.sending import MAX_TEST_RECIPIENTS, SendError, parse_test_recipients


def test_a_phone_number_written_with_spaces_is_one_recipient() -> None:
    found = parse_test_recipients("+1 415 555 0199", "sms")

    assert [(r.channel, r.address) for r in found] == [(Channel.SMS, "+14155550199")]


def test_commas_semicolons_and_new_lines_separate_recipients() -> None:
    found = parse_test_recipients(
        "owner@example.com, +1 415 555 0199;\nchef@example.com\r\n(415) 555-0100", "both"
    )

    assert [(r.typed, r.channel) for r in found] == [
        ("owner@example.com", Channel.EMAIL),
        ("+1 415 555 0199", Channel.SMS),
        ("chef@example.com", Channel.EMAIL),
        ("(415) 555-0100", Channel.SMS),
    ]


@pytest.mark.parametrize("typed", ["", "   ", " , ;\n"])
def test_an_empty_box_says_what_to_enter(typed: str) -> None:
    with pytest.raises(SendError, match="Enter an email address or a phone number"):
        parse_test_recipients(typed, "email")


def test_not_an_address_on_an_email_campaign_is_named_as_not_an_email_address() -> None:
    with pytest.raises(SendError) as info:
        parse_test_recipients("not-an-address", "email")

    assert str(info.value) == "“not-an-address” is not an email address."
    assert "SMS" not in str(info.value)


def test_every_bad_entry_is_named_with_its_reason() -> None:
    with pytest.raises(SendError) as info:
        parse_test_recipients("owner@example.com, owner@localhost, 555, +1 415 555 0199", "email")

    lines = str(info.value).splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("“owner@localhost” is not a valid email address: ")
    assert lines[1] == "“555” is not an email address."
    assert lines[2] == "“+1 415 555 0199” is a phone number, but this campaign sends only email."


def test_an_email_address_on_an_sms_campaign_and_a_bad_number_are_refused() -> None:
    with pytest.raises(SendError) as info:
        parse_test_recipients("owner@example.com\n+1 415 555 01", "sms")

    lines = str(info.value).splitlines()
    assert lines[0] == "“owner@example.com” is an email address, but this campaign sends only SMS."
    assert lines[1].startswith("“+1 415 555 01” is not a valid phone number: ")


def test_the_one_limit_on_test_recipients() -> None:
    many = ", ".join(f"owner{i}@example.com" for i in range(MAX_TEST_RECIPIENTS + 1))

    assert len(parse_test_recipients(many.rsplit(", ", 1)[0], "email")) == MAX_TEST_RECIPIENTS
    with pytest.raises(SendError, match=f"at most {MAX_TEST_RECIPIENTS} recipients"):
        parse_test_recipients(many, "email")
