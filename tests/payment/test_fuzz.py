"""Never a 500: any JSON value in any INIT field is answered with a documented code."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.payment.errors import ERROR_CODES
from tests.payment.conftest import INIT_ORDER, PartnerSetup, init_fields, signed
from tests.support import TenantClient

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3),
    max_leaves=8,
)
FIELDS = [*init_fields().keys(), "ThongTinBienLai.PhiLePhi", "ThongTinBienLai.HoTenNguoiNop"]
DOCUMENTED = {"0", "MALFORMED_JSON", *ERROR_CODES}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(FIELDS), value=json_values)
def test_any_value_in_any_init_field_gets_a_documented_answer(
    payment: TenantClient, province: PartnerSetup, field: str, value: Any
) -> None:
    fields = init_fields()
    if field.startswith("ThongTinBienLai."):
        fields["ThongTinBienLai"][field.split(".", 1)[1]] = value
    else:
        fields[field] = value
    r = payment.post("/payments", json=signed(fields, INIT_ORDER))
    assert r.status_code < 500, r.text
    assert r.json()["error_code"] in DOCUMENTED
