"""Training scenarios: a scripted story loaded into a fresh tenant, stepped through in presenter
mode with one sentence per step. Citizen steps are done by the trainer in the citizen portal;
the province's steps (the one-stop office's decisions) are sent by the scenario itself, as the
province's system would send them, through the gateway to DVCQG (``DongBoHoSoMC`` updates as
the development unit)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from console.i18n import VN_TZ

UNIT = "000.00.01.H22"
UNIT_API_KEY = "dvcqg-dev-unit-key"  # the development unit's documented key (embedded defaults)
#: Cấp bản sao Trích lục hộ tịch, bản sao Giấy khai sinh: 8,000 VNĐ online.
PROCEDURE = "2.000635"
FEE = 8000


@dataclass(frozen=True)
class Step:
    who: str  # "citizen", "province" or "operator"
    vi: str
    en: str
    #: Where the trainer goes (citizen and operator steps), relative to the tenant's console root.
    link: str = ""
    #: The province's action (province steps): a name :func:`province_records` knows.
    action: str = ""


@dataclass(frozen=True)
class Scenario:
    name: str
    title_vi: str
    title_en: str
    steps: tuple[Step, ...]


BIRTH_WITH_PAYMENT = Scenario(
    "khai-sinh-thanh-toan",
    "Khai sinh trực tuyến có thanh toán",
    "Online birth certificate with payment",
    (
        Step(
            "citizen",
            "Chị Cúc cần bản sao giấy khai sinh cho con. Chị vào Cổng Dịch vụ công và đăng nhập bằng "
            "tài khoản VNeID: cổng chuyển chị sang trang đăng nhập của VNeID, chị chọn tài khoản của mình.",
            "Cúc needs a copy of her child's birth certificate. She opens the public services portal and logs in "
            "with VNeID: the portal sends her to VNeID's login page, where she picks her account.",
            link="cong-dan/",
        ),
        Step(
            "citizen",
            "Chị tìm thủ tục “bản sao giấy khai sinh”, thấy lệ phí trực tuyến 8.000 đồng, điền tờ khai, "
            "đính kèm giấy tờ và nộp hồ sơ. Cổng cấp mã hồ sơ và gửi hồ sơ về bộ phận một cửa của tỉnh.",
            "She searches for “bản sao giấy khai sinh”, sees the online fee of 8,000 VND, fills in the form, "
            "attaches a document and files. The portal gives a dossier code and sends it to the province.",
            link="cong-dan/tim-kiem?q=b%E1%BA%A3n%20sao%20gi%E1%BA%A5y%20khai%20sinh",
        ),
        Step(
            "province",
            "Bộ phận một cửa tiếp nhận hồ sơ, chuyển xử lý và yêu cầu công dân nộp lệ phí 8.000 đồng: "
            "hệ thống một cửa của tỉnh đồng bộ từng bước lên Cổng DVCQG (DongBoHoSoMC).",
            "The one-stop office receives the dossier, starts processing and asks for the 8,000 VND fee: the "
            "province's system syncs each step to the national portal (DongBoHoSoMC).",
            action="receive_and_request_fee",
        ),
        Step(
            "citizen",
            "Chị Cúc mở hồ sơ, thấy trạng thái “Yêu cầu thực hiện nghĩa vụ tài chính” và bấm "
            "“Thanh toán qua PayGov”; chị chọn ngân hàng trên trang PayGov và xác nhận.",
            "Cúc opens her dossier, sees “payment requested” and clicks “Pay with PayGov”; she picks a bank on "
            "PayGov's page and confirms.",
            link="cong-dan/",
        ),
        Step(
            "province",
            "PayGov báo kết quả thanh toán cho Cổng DVCQG; cán bộ xử lý xong và trả kết quả điện tử: "
            "bản sao giấy khai sinh có đường dẫn tải về.",
            "PayGov reports the payment to the national portal; the officer finishes and returns an electronic "
            "result: the copy of the birth certificate, with a download link.",
            action="finish_and_return",
        ),
        Step(
            "citizen",
            "Chị Cúc xem quá trình xử lý với ngày giờ từng bước và tải bản sao giấy khai sinh điện tử.",
            "Cúc follows each step with its date and time and downloads the electronic copy.",
            link="cong-dan/",
        ),
        Step(
            "operator",
            "Người vận hành xem lại toàn bộ luồng thông điệp: tỉnh ↔ cổng kết nối ↔ VNeID, DVCQG, "
            "PayGov, và các webhook gửi về tỉnh.",
            "The operator replays the whole message flow: province ↔ gateway ↔ VNeID, DVCQG, PayGov, and the "
            "webhooks back to the province.",
            link="",
        ),
    ),
)
SCENARIOS = {s.name: s for s in (BIRTH_WITH_PAYMENT,)}


def wire(now: datetime) -> str:
    """A DVCQG wire time (``yyyyMMddHHmmss``, Vietnam time)."""
    return now.astimezone(VN_TZ).strftime("%Y%m%d%H%M%S")


def province_records(action: str, code: str, now: datetime, result_url: str = "") -> list[dict[str, Any]]:
    """The ``DongBoHoSoMC`` updates (one call each, in order) of a province step."""
    if action == "receive_and_request_fee":
        fee = {"TenPhiLePhi": "Lệ phí cấp bản sao giấy khai sinh", "MucPhi": FEE, "LoaiPhiLePhi": 2}
        return [
            {
                "MaHoSo": code,
                "TrangThaiHoSo": 2,
                "NgayTiepNhan": wire(now),
                "NgayHenTra": wire(now + timedelta(days=1)),
            },
            {"MaHoSo": code, "TrangThaiHoSo": 4},
            {"MaHoSo": code, "TrangThaiHoSo": 6, "DanhSachLePhi": [fee]},
        ]
    if action == "finish_and_return":
        result = {
            "MaKetQua": f"KQ-{code[-5:]}",
            "TenGiayTo": "Bản sao giấy khai sinh",
            "DuongDanTepTinKetQua": result_url,
        }
        return [
            {"MaHoSo": code, "TrangThaiHoSo": 9, "NgayKetThucXuLy": wire(now), "DanhSachGiayToKetQua": [result]},
            {"MaHoSo": code, "TrangThaiHoSo": 10},
        ]
    raise ValueError(f"unknown province action {action!r}")
