"""Field encryption, cell binding, blind-index normalization, signatures."""

import base64
import hashlib
import hmac
import os
import secrets

import pytest

from marketing_ui.core.config import new_key
from marketing_ui.core.crypto import (
    BlindIndexer,
    DecryptionError,
    FieldCipher,
    HmacSha256,
    associated_data,
    normalize_phone,
    sign,
    verify,
)


@pytest.fixture
def fc() -> FieldCipher:
    import base64

    def key() -> bytes:
        return base64.urlsafe_b64decode(new_key() + "=")

    return FieldCipher({"k1": key(), "k2": key()}, "k1")


def test_round_trip_and_random_nonce(fc: FieldCipher) -> None:
    aad = associated_data("customer", "email", "uid1")
    a, b = fc.encrypt("bob@example.com", aad), fc.encrypt("bob@example.com", aad)
    assert a != b  # fresh nonce each time
    assert a.startswith("k1:") and "bob" not in a
    assert fc.decrypt(a, aad) == fc.decrypt(b, aad) == "bob@example.com"


@pytest.mark.parametrize(
    "other",
    [
        ("customer", "email", "uid2"),  # pasted into another row
        ("customer", "phone", "uid1"),  # pasted into another column
        ("coupon", "email", "uid1"),  # pasted into another table
    ],
)
def test_ciphertext_is_bound_to_its_cell(fc: FieldCipher, other: tuple[str, str, str]) -> None:
    token = fc.encrypt("bob@example.com", associated_data("customer", "email", "uid1"))
    with pytest.raises(DecryptionError):
        fc.decrypt(token, associated_data(*other))


def test_tampered_or_unknown_key_fails(fc: FieldCipher) -> None:
    aad = associated_data("customer", "email", "u")
    token = fc.encrypt("x@example.com", aad)
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    with pytest.raises(DecryptionError):
        fc.decrypt(flipped, aad)
    with pytest.raises(DecryptionError, match="unknown key"):
        fc.decrypt("k9:" + token.split(":", 1)[1], aad)


def test_old_key_still_decrypts_after_rotation(fc: FieldCipher) -> None:
    aad = associated_data("customer", "phone", "u")
    old = fc.encrypt("+12025550143", aad)
    fc.active_key_id = "k2"
    new = fc.encrypt("+12025550143", aad)
    assert FieldCipher.key_id_of(old) == "k1" and FieldCipher.key_id_of(new) == "k2"
    assert fc.decrypt(old, aad) == fc.decrypt(new, aad)


def test_email_blind_index_normalizes() -> None:
    bi = BlindIndexer(b"k" * 32)
    assert bi.email(" Bob@Example.COM ") == bi.email("bob@example.com")
    assert bi.email("bob@example.com") != bi.email("bob2@example.com")
    assert len(bi.email("bob@example.com")) == 64  # full-length HMAC-SHA256
    assert BlindIndexer(b"j" * 32).email("bob@example.com") != bi.email("bob@example.com")


@pytest.mark.parametrize(
    "raw",
    [
        "+1 202-555-0143",
        "(202) 555-0143",
        "202.555.0143",
        "+12025550143",
        " 2025550143 ",
        "2025550143.0",  # a spreadsheet's number column, exported as a float
        "12025550143.0",
        "001 202 555 0143",  # the 00 prefix most of the world dials, whatever the region
    ],
)
def test_phone_formats_collide_after_e164(raw: str) -> None:
    bi = BlindIndexer(b"k" * 32)
    assert normalize_phone(raw, "US") == "+12025550143"
    assert bi.phone(normalize_phone(raw, "US")) == bi.phone("+12025550143")


def test_email_and_phone_indexes_never_collide() -> None:
    bi = BlindIndexer(b"k" * 32)
    assert bi.index("email", "x") != bi.index("phone", "x")


@pytest.mark.parametrize("raw", ["12", "not a phone", "+1 000 000 0000", "", "00", "0012"])
def test_bad_phone_numbers_are_refused(raw: str) -> None:
    with pytest.raises(ValueError):
        normalize_phone(raw, "US")


def test_a_european_00_number_reads_in_a_us_business() -> None:
    assert normalize_phone("0033 1 23 45 67 89", "US") == "+33123456789"
    assert normalize_phone("0612345678", "FR") == "+33612345678"  # a national 0 stays national


@pytest.mark.parametrize("raw", ["2.02555E+09", "1,20256E+10", "2.0255501e10"])
def test_a_number_in_scientific_notation_says_its_digits_are_lost(raw: str) -> None:
    with pytest.raises(ValueError, match="scientific notation.*format the column as text"):
        normalize_phone(raw, "US")


def test_signatures_are_purpose_bound() -> None:
    sig = sign("42", "open")
    assert verify("42", sig, "open")
    assert not verify("43", sig, "open")
    assert not verify("42", sig, "click")


def test_non_ascii_signature_is_rejected_not_raised() -> None:
    assert not verify("42", "é" * 22, "open")


@pytest.mark.parametrize("key_length", [0, 1, 32, 64, 65, 200])
def test_precomputed_hmac_is_exactly_hmac_sha256(key_length: int) -> None:
    for _ in range(20):
        key, message = os.urandom(key_length), os.urandom(secrets.randbelow(300))
        mac = HmacSha256(key)
        assert mac.digest(message) == hmac.new(key, message, hashlib.sha256).digest()
        assert mac.digest(message) == mac.digest(message)  # the key state is reused, not consumed


def test_blind_index_and_signature_are_standard_hmacs() -> None:
    """Values stored by earlier versions (hmac.new) must keep matching."""
    key = base64.urlsafe_b64decode(new_key() + "=")
    expected = hmac.new(key, b"email\x1fana@example.com", hashlib.sha256).hexdigest()
    assert BlindIndexer(key).email("Ana@Example.com") == expected
