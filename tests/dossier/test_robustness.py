"""Whatever a provincial system sends, the portal answers in its envelope, never with a 500."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.dossier.errors import Code
from tests.dossier.conftest import record

FIELDS = [
    "MaHoSo", "MaTTHC", "KenhThucHien", "ChuHoSo", "LoaiDoiTuong", "SoGiayToChuHoSo", "NgayTiepNhan", "NgayHenTra",
    "NgayNopHoSo", "NgayKetThucXuLy", "TrangThaiHoSo", "DanhSachLePhi", "TaiLieuNop", "Email", "SoDienThoai",
    "DuocThanhToanTrucTuyen", "TaiKhoanDuocXacThucVoiVNeID", "HoSoCoThanhPhanSoHoa", "DanhSachGiayToKetQua",
]  # fmt: skip
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["MucPhi", "DuocSoHoa", "x"]), inner, max_size=3)
    ),
    max_leaves=6,
)
KNOWN = {int(c) for c in Code}
LENIENT = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@LENIENT
@given(changes=st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=5))
def test_any_dossier_record_is_answered_in_the_envelope(province, changes):
    r = province.sync(record(**changes))
    assert r.status_code < 500, r.text
    body = r.json()
    assert body["error_code"] in KNOWN
    assert all(item["error_code"] in KNOWN for item in body["data"])


@LENIENT
@given(
    body=st.dictionaries(
        st.sampled_from(["service", "isUpdating", "data", "MaHoSo", "limit", "TrangThaiHoSo"]), JSON, max_size=4
    )
)
def test_any_call_body_is_answered_in_the_envelope(province, body):
    r = province.call(body)
    assert r.status_code < 500, r.text
    assert r.json()["error_code"] in KNOWN


@LENIENT
@given(
    step=st.dictionaries(
        st.sampled_from(["MaHoSo", "NguoiXuLy", "ThoiDiemXuLy", "TrangThai", "NgayBatDau"]), JSON, max_size=5
    )
)
def test_any_progress_record_is_answered_in_the_envelope(province, step):
    r = province.progress(step)
    assert r.status_code < 500, r.text
    assert r.json()["error_code"] in KNOWN
