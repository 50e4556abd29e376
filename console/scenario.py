"""Training scenarios: a scripted story loaded into a fresh tenant, stepped through in presenter
mode with one sentence per step. Citizen steps are done by the trainer in the citizen portal;
the province's steps (the one-stop office's decisions) are sent by the scenario itself, as the
province's system would send them, through the gateway to DVCQG (``DongBoHoSoMC`` updates as
the development unit)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from console.i18n import VN_TZ, vn_time

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
    #: The step's action, done by the presenter's button: a province action (a name
    #: :func:`province_calls` knows) or an operator action (a key of :data:`OPERATOR_ACTIONS`).
    action: str = ""


@dataclass(frozen=True)
class Scenario:
    name: str
    title_vi: str
    title_en: str
    steps: tuple[Step, ...]


#: The citizen's filing step the overdue and payment-retry scenarios start with.
CUC_FILES_A_BIRTH_COPY = Step(
    "citizen",
    "Chị Cúc đăng nhập Cổng Dịch vụ công bằng VNeID, tìm thủ tục “bản sao giấy khai sinh” và nộp hồ sơ.",
    "Cúc logs in to the public services portal with VNeID, finds “bản sao giấy khai sinh” and files.",
    link="cong-dan/",
)

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
#: The citizen's dossier page (``{MaHoSo}``: the tenant's current dossier).
DOSSIER_PAGE = "cong-dan/ho-so/{MaHoSo}"
SEARCH_BIRTH_COPY = "cong-dan/tim-kiem?q=b%E1%BA%A3n%20sao%20gi%E1%BA%A5y%20khai%20sinh"

OVERDUE = Scenario(
    "ho-so-qua-han",
    "Hồ sơ quá hạn",
    "Overdue dossier",
    (
        Step(
            "province",
            "Tuần trước, bộ phận một cửa đã giải quyết và trả đúng hẹn 3 hồ sơ cấp bản sao giấy khai sinh "
            "nộp trực tuyến; hệ thống một cửa của tỉnh đã đồng bộ cả 3 lên Cổng DVCQG (DongBoHoSoMC).",
            "Last week the one-stop office settled and returned 3 online birth certificate copy dossiers on time; "
            "the province's system synced all 3 to the national portal (DongBoHoSoMC).",
            action="seed_on_time_history",
        ),
        Step(
            "operator",
            "Bộ chỉ số 766 do Cổng DVCQG tính từ chính dữ liệu đồng bộ: chỉ số 2.1 (giải quyết đúng hạn) "
            "đang đạt 100 %, 3/3 hồ sơ.",
            "The 766 scorecard is computed by the national portal from the synced data itself: indicator 2.1 "
            "(settled on time) stands at 100 %, 3 of 3 dossiers.",
            link="chi-so",
        ),
        CUC_FILES_A_BIRTH_COPY,
        Step(
            "province",
            "Bộ phận một cửa tiếp nhận hồ sơ, hẹn trả kết quả sau 1 ngày (NgayHenTra) và chuyển phòng chuyên "
            "môn xử lý.",
            "The one-stop office receives the dossier, promises the result within 1 day (NgayHenTra) and passes "
            "it to the specialist department.",
            action="receive_and_process",
        ),
        Step(
            "operator",
            "Hai ngày trôi qua mà phòng chuyên môn chưa xử lý xong: người vận hành đẩy đồng hồ thử nghiệm của "
            "tenant lên 2 ngày (hoặc bấm “+1 ngày” hai lần). Hồ sơ đã quá hạn 1 ngày.",
            "Two days pass and the department has not finished: the operator moves the tenant's test clock 2 days "
            "ahead (or presses “+1 day” twice). The dossier is now 1 day overdue.",
            action="two_days_later",
        ),
        Step(
            "province",
            "Hồ sơ quá hạn thì cơ quan phải gửi công dân Phiếu xin lỗi và hẹn lại ngày trả kết quả; tỉnh gửi "
            "phiếu và đồng bộ lên Cổng như một bước tiến độ (CapNhatTienDoHoSoMC) với ngày hẹn mới. "
            "NgayHenTra của hồ sơ giữ nguyên: trễ hạn vẫn là trễ hạn.",
            "For an overdue dossier the office must send the citizen an apology with a new appointment date "
            "(Phiếu xin lỗi và hẹn lại ngày trả kết quả); the province sends it and syncs it as a progress record "
            "(CapNhatTienDoHoSoMC) with the new date. The dossier's NgayHenTra stays: late is still late.",
            action="apologise_and_extend",
        ),
        Step(
            "citizen",
            "Chị Cúc mở hồ sơ và thấy phiếu xin lỗi với ngày hẹn trả mới trong quá trình xử lý.",
            "Cúc opens her dossier and finds the apology with the new appointment date in its history.",
            link=DOSSIER_PAGE,
        ),
        Step(
            "operator",
            "Trên Bộ chỉ số 766, chỉ số 2.1 tụt xuống 75 %: hồ sơ của chị Cúc được nêu tên trong danh sách "
            "hồ sơ kéo giảm, quá hạn 24 giờ (chưa kết thúc, tính đến thời điểm tính).",
            "On the 766 scorecard, indicator 2.1 drops to 75 %: Cúc's dossier is named among the dossiers pulling "
            "it down, 24 hours late (unfinished, measured now).",
            link="chi-so",
        ),
    ),
)

VNEID_OUTAGE = Scenario(
    "vneid-gian-doan",
    "VNeID gián đoạn giữa phiên",
    "VNeID interrupted mid-session",
    (
        Step(
            "citizen",
            "Chị Cúc mở Cổng Dịch vụ công để xin bản sao giấy khai sinh cho con; chị chuẩn bị bấm “Đăng nhập "
            "bằng VNeID”.",
            "Cúc opens the public services portal to ask for a copy of her child's birth certificate; she is about "
            "to press “Log in with VNeID”.",
            link="cong-dan/",
        ),
        Step(
            "operator",
            "Đúng lúc đó VNeID gián đoạn: người vận hành bật sự cố “VNeID ngừng hoạt động”; cổng kết nối trả "
            "503 cho mọi lời gọi tới VNeID.",
            "Right then VNeID goes down: the operator turns on the “VNeID is down” fault; the gateway answers 503 "
            "to every call to VNeID.",
            action="vneid_down",
        ),
        Step(
            "citizen",
            "Chị bấm “Đăng nhập bằng VNeID”. Cổng không gọi được VNeID và báo rõ bằng tiếng Việt: VNeID đang "
            "gián đoạn, vui lòng thử lại sau. Không có trang lỗi kỹ thuật nào.",
            "She presses “Log in with VNeID”. The portal cannot reach VNeID and says so plainly: VNeID is "
            "interrupted, please try again later. No technical error page.",
            link="cong-dan/",
        ),
        Step(
            "operator",
            "VNeID hoạt động trở lại: người vận hành tắt sự cố.",
            "VNeID is back: the operator turns the fault off.",
            action="vneid_back",
        ),
        Step(
            "citizen",
            "Chị Cúc bấm “Đăng nhập bằng VNeID” lần nữa, chọn tài khoản trên trang VNeID và vào được Cổng.",
            "Cúc presses “Log in with VNeID” again, picks her account on VNeID's page and is in.",
            link="cong-dan/",
        ),
        Step(
            "citizen",
            "Chị tìm thủ tục “bản sao giấy khai sinh” và nộp hồ sơ như bình thường.",
            "She finds “bản sao giấy khai sinh” and files as usual.",
            link=SEARCH_BIRTH_COPY,
        ),
        Step(
            "operator",
            "Trên sơ đồ luồng thông điệp: các lời gọi tới VNeID lúc gián đoạn là mũi tên đỏ dừng ở cổng kết nối "
            "(503 do sự cố), sau đó là lần đăng nhập thành công.",
            "In the message flow: the calls to VNeID during the outage are red arrows stopping at the gateway "
            "(503 from the fault), then the successful login.",
            link="",
        ),
    ),
)

PAYMENT_RETRY = Scenario(
    "thanh-toan-lai",
    "Thanh toán không đủ số dư rồi thanh toán lại",
    "Payment fails for insufficient balance, then is paid again",
    (
        CUC_FILES_A_BIRTH_COPY,
        Step(
            "province",
            "Bộ phận một cửa tiếp nhận hồ sơ, chuyển xử lý và yêu cầu nộp lệ phí 8.000 đồng (DongBoHoSoMC).",
            "The one-stop office receives the dossier, starts processing and asks for the 8,000 VND fee "
            "(DongBoHoSoMC).",
            action="receive_and_request_fee",
        ),
        Step(
            "citizen",
            "Chị bấm “Thanh toán qua PayGov”, chọn ngân hàng trên trang PayGov, nhưng tài khoản không đủ tiền: "
            "chọn “Thất bại: tài khoản không đủ số dư”. PayGov trả mã lỗi 51.",
            "She presses “Pay with PayGov” and picks a bank on PayGov's page, but her account is short: "
            "“Failed: insufficient balance”. PayGov answers result code 51.",
            link=DOSSIER_PAGE,
        ),
        Step(
            "citizen",
            "Về lại Cổng, hồ sơ vẫn chờ nộp lệ phí và ghi rõ lần thanh toán vừa rồi không thành công: tài khoản "
            "không đủ số dư (mã 51). Chị có thể thanh toán lại.",
            "Back on the portal the dossier still awaits the fee and says the last payment failed: insufficient "
            "balance (code 51). She may pay again.",
            link=DOSSIER_PAGE,
        ),
        Step(
            "citizen",
            "Chị nạp thêm tiền và bấm “Thanh toán qua PayGov” lần nữa: một giao dịch mới (mã tham chiếu mới) "
            "được mở, lần này thanh toán thành công và PayGov báo kết quả cho Cổng DVCQG.",
            "She tops up and presses “Pay with PayGov” again: a new transaction (a new reference) opens, this time "
            "the payment succeeds and PayGov reports it to the national portal.",
            link=DOSSIER_PAGE,
        ),
        Step(
            "province",
            "Tỉnh nhận thông báo đã thanh toán; cán bộ xử lý xong và trả kết quả điện tử.",
            "The province is told the fee is paid; the officer finishes and returns an electronic result.",
            action="finish_and_return",
        ),
        Step(
            "citizen",
            "Chị Cúc thấy hai lần thanh toán (thất bại rồi thành công), hồ sơ đã trả kết quả, và tải bản sao.",
            "Cúc sees both payments (failed, then paid), the dossier returned, and downloads the copy.",
            link=DOSSIER_PAGE,
        ),
    ),
)
SCENARIOS = {s.name: s for s in (BIRTH_WITH_PAYMENT, OVERDUE, VNEID_OUTAGE, PAYMENT_RETRY)}


@dataclass(frozen=True)
class OperatorAction:
    """What an operator step's button does: turn a training fault (a preset of
    :mod:`console.toggles`) on or off, or move the tenant's test clock forward."""

    preset: str = ""
    on: bool = False
    advance_s: int = 0


OPERATOR_ACTIONS = {
    "vneid_down": OperatorAction(preset="vneid-down", on=True),
    "vneid_back": OperatorAction(preset="vneid-down", on=False),
    "two_days_later": OperatorAction(advance_s=2 * 86400),
}
#: Province actions that do not act on the tenant's current dossier.
WITHOUT_DOSSIER = frozenset({"seed_on_time_history"})


@dataclass(frozen=True)
class ProvinceCall:
    """One call of the province's system to DVCQG: a ``DongBoHoSoMC`` creation or update, or a
    ``CapNhatTienDoHoSoMC`` progress record."""

    service: str
    record: dict[str, Any]
    updating: bool = True

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"service": self.service, "data": [self.record]}
        if self.service == "DongBoHoSoMC":
            body["isUpdating"] = "True" if self.updating else "False"
        return body

    @property
    def ok(self) -> tuple[int, ...]:
        """Replies that mean done: a creation sent again finds its dossier there (409, code 21)."""
        return (200, 201) if self.updating else (200, 201, 409)


def step_link(step: Step, code: str | None) -> str:
    """Where a citizen's or operator's step goes; a link to the current dossier falls back to the
    portal's home while no dossier is filed."""
    if "{MaHoSo}" in step.link:
        return step.link.replace("{MaHoSo}", code) if code else "cong-dan/"
    return step.link


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
    if action == "receive_and_process":
        return [
            {
                "MaHoSo": code,
                "TrangThaiHoSo": 2,
                "NgayTiepNhan": wire(now),
                "NgayHenTra": wire(now + timedelta(days=1)),
            },
            {"MaHoSo": code, "TrangThaiHoSo": 4},
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


def province_calls(action: str, code: str, now: datetime, result_url: str = "") -> list[ProvinceCall]:
    """The calls (in order) of a province step: its ``DongBoHoSoMC`` updates of the current
    dossier (:func:`province_records`), the history it had already synced, or a progress record."""
    if action == "seed_on_time_history":
        return [ProvinceCall("DongBoHoSoMC", r, updating=False) for r in on_time_history(now, result_url)]
    if action == "apologise_and_extend":
        return [ProvinceCall("CapNhatTienDoHoSoMC", apology(code, now))]
    return [ProvinceCall("DongBoHoSoMC", r) for r in province_records(action, code, now, result_url)]


#: The owners of the dossiers settled last week (synthetic: valid CCCD numbers, no real people).
PAST_OWNERS = (
    ("Trần Văn Bình", "079085012345"),
    ("Nguyễn Thị Lan", "049192003456"),
    ("Phạm Minh Đức", "001088067890"),
)


def on_time_history(now: datetime, result_url: str = "") -> list[dict[str, Any]]:
    """Three online dossiers of :data:`PROCEDURE` received 7, 6 and 5 days ago, each settled
    within its day (fee paid online, electronic result), as a province catching up creates
    them: straight in status 10 with their own dates."""
    records = []
    for i, (name, number) in enumerate(PAST_OWNERS):
        received = now - timedelta(days=7 - i)
        local = received.astimezone(VN_TZ)
        record: dict[str, Any] = {
            "MaHoSo": f"{UNIT}-{local:%y%m%d}-{10001 + i}",
            "MaTTHC": PROCEDURE,
            "KenhThucHien": 2,
            "ChuHoSo": name,
            "LoaiDoiTuong": 1,
            "SoGiayToChuHoSo": number,
            "Email": f"cong-dan-{i + 1}@example.vn",
            "TaiKhoanDuocXacThucVoiVNeID": 1,
            "NgayNopHoSo": wire(received - timedelta(hours=1)),
            "NgayTiepNhan": wire(received),
            "NgayHenTra": wire(received + timedelta(days=1)),
            "NgayKetThucXuLy": wire(received + timedelta(hours=20)),
            "NgayTra": wire(received + timedelta(hours=22)),
            "TrangThaiHoSo": 10,
            "DuocThanhToanTrucTuyen": 1,
            "DanhSachLePhi": [{"TenPhiLePhi": "Lệ phí cấp bản sao giấy khai sinh", "MucPhi": FEE, "LoaiPhiLePhi": 2}],
        }
        if result_url:
            record["DanhSachGiayToKetQua"] = [
                {
                    "MaKetQua": f"KQ-{10001 + i}",
                    "TenGiayTo": "Bản sao giấy khai sinh",
                    "DuongDanTepTinKetQua": result_url,
                }
            ]
        records.append(record)
    return records


def apology(code: str, now: datetime) -> dict[str, Any]:
    """The progress record of a *Phiếu xin lỗi và hẹn lại ngày trả kết quả* (the apology a late
    office sends the citizen, with a new appointment a day later). The sandbox's choice, as the
    sync API has no field of its own for it: a ``CapNhatTienDoHoSoMC`` record that keeps the
    status (4), says so in ``NoiDungXuLy`` and dates the new appointment in
    ``NgayKetThucTheoQuyDinh``; the dossier's ``NgayHenTra`` is not moved, so the 766 scorecard
    still measures 2.1 against the first appointment."""
    new_date = now + timedelta(days=1)
    return {
        "MaHoSo": code,
        "NguoiXuLy": "Trần Thị Bình",
        "ChucDanh": "Công chức Bộ phận một cửa",
        "PhongBanXuLy": "Bộ phận tiếp nhận và trả kết quả",
        "NoiDungXuLy": (
            "Phiếu xin lỗi và hẹn lại ngày trả kết quả: hồ sơ chưa giải quyết xong đúng hẹn, "
            f"hẹn trả kết quả vào {vn_time(new_date)}"
        ),
        "ThoiDiemXuLy": wire(now),
        "TrangThai": 4,
        "NgayBatDau": wire(now),
        "NgayKetThucTheoQuyDinh": wire(new_date),
        "IdempotencyKey": f"{code}-phieu-xin-loi",
    }
