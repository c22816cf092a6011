"""Page state leaves the app process only sealed: no PII or session token in what Reflex stores."""

from __future__ import annotations

import io

import pytest
from reflex.state import BaseState
from reflex_base.utils.exceptions import StateSchemaMismatchError

import marketing_ui.marketing_ui  # noqa: F401  (installs the sealing, registers every State)
from marketing_ui.state import sealed_storage
from marketing_ui.state.customers import CustomerRowView, CustomersState
from marketing_ui.state.redeem import RedeemState

EMAIL = "private.person@example.net"


def _customers_state_with_pii() -> CustomersState:
    state = CustomersState(_reflex_internal_init=True)  # type: ignore[call-arg]
    state.rows = [CustomerRowView(id="7", name="Pat Private", email=EMAIL, phone="+14155550123")]
    return state


def test_the_app_installs_sealing_on_reflex_itself() -> None:
    assert sealed_storage.installed()


def test_a_stored_state_holds_no_plaintext_and_reads_back() -> None:
    blob = _customers_state_with_pii()._serialize()
    assert blob.startswith(b"MKS1")
    assert EMAIL.encode() not in blob and b"Pat Private" not in blob and b"+1415" not in blob
    restored = BaseState._deserialize(data=blob)
    assert isinstance(restored, CustomersState)
    assert restored.rows[0].email == EMAIL
    # The disk manager reads through a file object: the same seal applies.
    assert BaseState._deserialize(fp=io.BytesIO(blob)).rows[0].email == EMAIL


def test_backend_vars_are_sealed_too() -> None:
    state = RedeemState(_reflex_internal_init=True)  # type: ignore[call-arg]
    state._coupon_id = 424242
    state.coupon = {"short_code": "SECR-ET42"}
    blob = state._serialize()
    assert b"SECR-ET42" not in blob
    assert BaseState._deserialize(data=blob)._coupon_id == 424242


@pytest.mark.parametrize("damage", ["flip", "plain", "truncate"])
def test_a_damaged_or_unsealed_blob_starts_the_state_afresh(damage: str) -> None:
    """Reflex's managers treat a schema mismatch as "no stored state"; so is a bad seal."""
    blob = _customers_state_with_pii()._serialize()
    if damage == "flip":
        blob = blob[:-1] + bytes([blob[-1] ^ 1])
    elif damage == "plain":  # what Reflex stored before sealing (or an attacker's own pickle)
        import pickle

        blob = pickle.dumps(("schema", {"rows": EMAIL}))
    else:
        blob = blob[:20]
    with pytest.raises(StateSchemaMismatchError):
        BaseState._deserialize(data=blob)
