"""Helpers of the payment tests: an independent checksum, message builders, a partner with a receiver."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.receiver import Received, Receiver, Reply
from tests.support import TenantClient, deliveries, wait_for

SECRET = "province-secret-0001"
PARTNER = "HCM_MCDT"

# Written out here, independently of services/payment/protocol.py, as docs/payment.md states them.
INIT_ORDER = [
    "LoaiBanTin", "PhienBan", "MaDoiTac", "MaThamChieu", "SoTien", "MaTienTe", "LoaiHinhThanhToan",
    "MaKenhThanhToan", "MaThietBi", "NgonNgu", "MaNganHang", "ThoiGianGD", "ThongTinGiaoDich", "Ip",
]  # fmt: skip
QUERY_ORDER = ["LoaiBanTin", "PhienBan", "MaDoiTac", "MaThamChieu", "ThoiGianGD"]
QUERY_REPLY_ORDER = [
    "error_code", "MaDoiTac", "MaThamChieu", "MaGiaoDich", "SoTien", "MaTienTe", "TrangThaiGD", "MaLoi",
    "MaNganHang", "ThoiGianGD",
]  # fmt: skip
INIT_REPLY_ORDER = ["error_code", "MaDoiTac", "MaThamChieu", "MaGiaoDich", "SoTien", "UrlThanhToan"]
NOTIFY_ORDER = [
    "LoaiBanTin", "PhienBan", "MaDoiTac", "MaThamChieu", "MaGiaoDich", "MaLoi", "SoTien", "MaTienTe",
    "MaNganHang", "ThoiGianGD", "ThongTinGiaoDich",
]  # fmt: skip
REFUND_ORDER = [
    "LoaiBanTin", "PhienBan", "MaDoiTac", "MaThamChieu", "MaThamChieuHoanTien", "SoTien", "MaTienTe", "ThoiGianGD",
]  # fmt: skip
REFUND_NOTIFY_ORDER = [
    "LoaiBanTin", "PhienBan", "MaDoiTac", "MaThamChieu", "MaThamChieuHoanTien", "MaGiaoDich", "MaHoanTien",
    "MaLoi", "SoTien", "MaTienTe", "ThoiGianGD",
]  # fmt: skip

ACK = b'{"MaLoi": "00", "MoTaLoi": "Thanh cong"}'
PAYER = "Nguyễn Thị Hồng Nhung"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def mac(fields: dict[str, Any], order: list[str], secret: str = SECRET, algo: str = "sha256") -> str:
    """The checksum, computed without the service's code."""
    text = "|".join(_text(fields.get(f)) for f in order)
    return hmac.new(secret.encode(), text.encode(), getattr(hashlib, algo)).hexdigest()


def signed(fields: dict[str, Any], order: list[str], secret: str = SECRET, algo: str = "sha256") -> dict[str, Any]:
    return {**fields, "MaXacThuc": mac(fields, order, secret, algo)}


def verify(reply: dict[str, Any], order: list[str], secret: str = SECRET, algo: str = "sha256") -> bool:
    return hmac.compare_digest(mac(reply, order, secret, algo), reply["MaXacThuc"])


def ref() -> str:
    return "REF-" + uuid.uuid4().hex[:12]


def _fees(amount: int) -> list[dict[str, Any]]:
    """Two fees summing to ``amount`` (one when it is small)."""
    main = {"LoaiPhiLePhi": 2, "MaPhiLePhi": "LP01", "TenPhiLePhi": "Lệ phí đăng ký", "SoTien": amount}
    if amount <= 50_000:
        return [main]
    copy_fee = {"LoaiPhiLePhi": 1, "MaPhiLePhi": "P01", "TenPhiLePhi": "Phí sao y bản chính", "SoTien": 50_000}
    return [main | {"SoTien": amount - 50_000}, copy_fee]


def init_fields(
    reference: str | None = None, amount: int = 150_000, partner: str = PARTNER, **extra: Any
) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "LoaiBanTin": "INIT",
        "PhienBan": "1.0.6",
        "MaDoiTac": partner,
        "MaThamChieu": reference or ref(),
        "SoTien": amount,
        "MaTienTe": "VND",
        "LoaiHinhThanhToan": "PAY",
        "MaKenhThanhToan": "WEB",
        "MaThietBi": "DESKTOP",
        "NgonNgu": "vi-VN",
        "ThoiGianGD": "20260915103000",
        "ThongTinGiaoDich": "Nộp lệ phí hồ sơ",
        "Ip": "203.0.113.7",
        "ThongTinBienLai": {
            "MaDichVu": 2,
            "MaTTHC": "2.002492",
            "TenTTHC": "Đăng ký khai sinh",
            "MaDonVi": "000.00.01.H22",
            "MaHoSo": "000.00.01.H22-260915-00001",
            "HoTenNguoiNop": PAYER,
            "SoCMNDNguoiNop": "079301000123",
            "DiaChiNguoiNop": "Phường Bến Nghé, Quận 1, TP Hồ Chí Minh",
            "PhiLePhi": _fees(amount),
        },
    }
    fields.update(extra)
    return fields


def init_body(reference: str | None = None, amount: int = 150_000, **extra: Any) -> dict[str, Any]:
    return signed(init_fields(reference, amount, **extra), INIT_ORDER)


def query_body(reference: str, partner: str = PARTNER) -> dict[str, Any]:
    fields = {
        "LoaiBanTin": "QUERY",
        "PhienBan": "1.0.6",
        "MaDoiTac": partner,
        "MaThamChieu": reference,
        "ThoiGianGD": "20260915103500",
    }
    return signed(fields, QUERY_ORDER)


def refund_body(reference: str, refund_ref: str, amount: int) -> dict[str, Any]:
    fields = {
        "LoaiBanTin": "REFUND",
        "PhienBan": "1.0.6",
        "MaDoiTac": PARTNER,
        "MaThamChieu": reference,
        "MaThamChieuHoanTien": refund_ref,
        "SoTien": amount,
        "MaTienTe": "VND",
        "ThoiGianGD": "20260915110000",
        "LyDo": "Hồ sơ bị từ chối",
    }
    return signed(fields, REFUND_ORDER)


def advance(client: TenantClient, seconds: float) -> None:
    r = client.post("/_sandbox/clock", json={"advance_seconds": seconds})
    assert r.status_code == 200, r.text


class PartnerSetup:
    """A registered partner whose notices go to a real loopback receiver."""

    def __init__(self, payment: TenantClient, receiver: TenantReceiver) -> None:
        self.payment = payment
        self.receiver = receiver

    def register(self, code: str = PARTNER, **extra: Any) -> dict[str, Any]:
        body = {
            "name": "Hệ thống một cửa điện tử TP HCM",
            "secret": SECRET,
            "notice_url": self.receiver.url + "/paygov/notice",
            "return_url": "https://mcdt.example.gov.vn/thanh-toan/ket-qua",
            **extra,
        }
        r = self.payment.put(f"/_sandbox/partners/{code}", json=body)
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()
        return data

    def init(self, reference: str | None = None, amount: int = 150_000, **extra: Any) -> dict[str, Any]:
        r = self.payment.post("/payments", json=init_body(reference, amount, **extra))
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()
        return data

    def complete(self, transaction_id: str, outcome: str, bank: str = "NCB") -> dict[str, Any]:
        r = self.payment.post(
            f"/_sandbox/payments/{transaction_id}/complete", json={"outcome": outcome, "MaNganHang": bank}
        )
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()
        return data

    def query(self, reference: str) -> dict[str, Any]:
        r = self.payment.post("/payments", json=query_body(reference))
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()
        return data

    def notices(self) -> list[Received]:
        with self.receiver.lock:
            return [r for r in self.receiver.received if r.path == "/paygov/notice"]


def ack_after(n_failures: int) -> Callable[[int, Received], Reply]:
    """The partner answers a non-00 MaLoi to the first ``n_failures`` notices, then 00."""
    return lambda n, _r: (200, b'{"MaLoi": "99", "MoTaLoi": "busy"}') if n <= n_failures else (200, ACK)


class TenantReceiver:
    """One test's share of the session's loopback receiver: its own path prefix, replies and count.

    (One server for the session: stopping a ``ThreadingHTTPServer`` costs half a second.)
    """

    def __init__(self, shared: Receiver, prefix: str) -> None:
        self.shared = shared
        self.prefix = prefix
        self.reply: Callable[[int, Received], Reply] = lambda n, _r: (200, ACK)
        self.lock = shared.lock

    @property
    def url(self) -> str:
        return self.shared.url + self.prefix

    @property
    def received(self) -> list[Received]:
        return [
            Received(r.path[len(self.prefix) :], r.headers, r.body)
            for r in self.shared.received
            if r.path.startswith(self.prefix + "/")
        ]


class _Dispatch:
    def __init__(self) -> None:
        self.routes: dict[str, TenantReceiver] = {}
        self.counts: dict[str, int] = {}

    def __call__(self, _n: int, item: Received) -> Reply:
        prefix = "/" + item.path.split("/")[1]
        target = self.routes.get(prefix)
        if target is None:
            return 404, b'{"MaLoi": "99", "MoTaLoi": "no such test"}'
        # n counts per path: partner notices and dossier events are numbered apart.
        self.counts[item.path] = self.counts.get(item.path, 0) + 1
        return target.reply(self.counts[item.path], Received(item.path[len(prefix) :], item.headers, item.body))


@pytest.fixture(scope="session")
def _shared_receiver() -> Iterator[tuple[Receiver, _Dispatch]]:
    dispatch = _Dispatch()
    r = Receiver(reply=dispatch)
    yield r, dispatch
    r.close()


@pytest.fixture
def receiver(_shared_receiver: tuple[Receiver, _Dispatch], tenant: str) -> Iterator[TenantReceiver]:
    shared, dispatch = _shared_receiver
    view = TenantReceiver(shared, "/" + tenant)
    dispatch.routes[view.prefix] = view
    yield view
    dispatch.routes.pop(view.prefix, None)


@pytest.fixture
def province(payment: TenantClient, receiver: TenantReceiver) -> PartnerSetup:
    setup = PartnerSetup(payment, receiver)
    setup.register()
    return setup


@pytest.fixture(autouse=True)
def _dossier_events_to_receiver(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Payment → dossier events of these tests go to the test's receiver, never to a real port 8002."""
    if "payment" not in request.fixturenames:
        return  # a test without the in-process service (pure functions, real processes)
    payment: TenantClient = request.getfixturevalue("payment")
    receiver: TenantReceiver = request.getfixturevalue("receiver")
    assert payment.app is not None
    monkeypatch.setattr(payment.app.state.settings, "dossier_url", receiver.url + "/dossier")


def settled(payment: TenantClient, attempts: int, **params: Any) -> dict[str, Any]:
    """Wait until a delivery has finished its ``attempts``-th try (recorded, not in flight)."""
    found: list[dict[str, Any]] = wait_for(
        lambda: [d for d in deliveries(payment, **params) if d["attempts"] == attempts and d["status"] != "delivering"],
        what=f"attempt {attempts} recorded",
    )
    return found[0]
