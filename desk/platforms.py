"""The national platforms as a provincial one-stop system calls them, through the gateway.

Copy this file: every call a province needs for the citizen journey is here, with the wire names
of domain.md. Nothing in it is specific to the sandbox except the clock read (``sandbox_now``),
which a production system replaces with its own clock, and ``tenant`` (which sandbox tenant the
credentials belong to).

The gateway consumer's credentials are configuration like the others: an API key (``X-API-Key``
on every call), or a client id and secret for which the gateway issues tokens
(:class:`GatewayToken`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Generator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

from desk.settings import DeskSettings

VN = timezone(timedelta(hours=7))
#: PayGov's checksum order for INIT (docs/payment.md, "The checksum").
INIT_ORDER = [
    "LoaiBanTin", "PhienBan", "MaDoiTac", "MaThamChieu", "SoTien", "MaTienTe", "LoaiHinhThanhToan",
    "MaKenhThanhToan", "MaThietBi", "NgonNgu", "MaNganHang", "ThoiGianGD", "ThongTinGiaoDich", "Ip",
]  # fmt: skip
QUERY_ORDER = ["LoaiBanTin", "PhienBan", "MaDoiTac", "MaThamChieu", "ThoiGianGD"]


@dataclass
class PlatformError(Exception):
    """A platform refused a call: which one, its own code and message."""

    platform: str
    call: str
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.platform} từ chối {self.call} (mã {self.code}): {self.message}"


#: Who answers when the gateway itself refuses (credentials, quota) rather than a platform.
GATEWAY = "Cổng kết nối"


def body_of(reply: httpx.Response, platform: str, call: str) -> dict[str, Any]:
    """A reply's JSON object; anything else (an empty or cut reply) is a refusal too."""
    try:
        body = reply.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise PlatformError(platform, call, f"HTTP {reply.status_code}", "Trả lời không phải JSON hợp lệ")
    return body


def basic_auth(user: str, password: str) -> str:
    """An HTTP Basic ``Authorization`` value."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class GatewayToken(httpx.Auth):
    """A gateway consumer's client id and secret: a ``client_credentials`` token from the gateway,
    sent as ``X-Gateway-Token`` (``Authorization`` stays free for the platforms' own credentials),
    asked for again when the gateway no longer accepts it (it expires, on the tenant's test clock too)."""

    requires_response_body = True

    def __init__(self, gateway_url: str, client_id: str, client_secret: str) -> None:
        self.url = gateway_url.rstrip("/") + "/oauth2/token"
        self.authorization = basic_auth(client_id, client_secret)
        self.token = ""

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        for fresh in (False, True):
            if fresh or not self.token:
                reply = yield httpx.Request(
                    "POST",
                    self.url,
                    data={"grant_type": "client_credentials"},
                    headers={"Authorization": self.authorization},
                )
                body = body_of(reply, GATEWAY, "token")
                if reply.status_code != 200 or "access_token" not in body:
                    raise PlatformError(GATEWAY, "token", str(body.get("error")), str(body.get("error_description")))
                self.token = str(body["access_token"])
            request.headers["X-Gateway-Token"] = self.token
            response = yield request
            if response.status_code != 401 or _code(response) not in ("INVALID_TOKEN", "TOKEN_EXPIRED"):
                return


def _code(reply: httpx.Response) -> str:
    try:
        return str(reply.json().get("error_code"))
    except (ValueError, AttributeError):
        return ""


def wire_time(moment: datetime) -> str:
    """``yyyyMMddHHmmss`` in Vietnam time, the DVCQG and PayGov format."""
    return moment.astimezone(VN).strftime("%Y%m%d%H%M%S")


def checksum(secret: str, message: dict[str, Any], order: list[str]) -> str:
    """PayGov ``MaXacThuc``: HMAC-SHA256 over the fields joined with ``|`` (missing = empty)."""
    values = ["" if message.get(f) is None else str(message[f]) for f in order]
    return hmac.new(secret.encode(), "|".join(values).encode(), hashlib.sha256).hexdigest()


class Platforms:
    """VNeID, DVCQG and PayGov behind one gateway, with the province's accounts."""

    def __init__(self, settings: DeskSettings, transport: httpx.BaseTransport | None = None) -> None:
        self.s = settings
        headers = {"X-API-Key": settings.api_key} if settings.api_key else {}
        token = None
        if settings.gateway_client_id:
            token = GatewayToken(settings.gateway_url, settings.gateway_client_id, settings.gateway_client_secret)
        self.http = httpx.Client(
            base_url=settings.gateway_url, headers=headers, auth=token, timeout=30, transport=transport
        )
        self._session: str | None = None

    def close(self) -> None:
        self.http.close()

    # -- the sandbox's test clock (a real system uses its own clock) -------------------------
    def sandbox_now(self) -> datetime:
        reply = self.http.get("/_sandbox/clock")
        offset = float(body_of(reply, GATEWAY, "clock").get("offset_seconds", 0)) if reply.status_code == 200 else 0.0
        return datetime.now(VN) + timedelta(seconds=offset)

    def tenant(self) -> str:
        """The sandbox tenant the gateway credentials belong to (the gateway lists the caller's own)."""
        reply = self.http.get("/_sandbox/tenants")
        body = body_of(reply, GATEWAY, "tenants")
        tenants = body.get("tenants")
        if reply.status_code != 200 or not isinstance(tenants, list) or not tenants:
            raise PlatformError(
                GATEWAY, "tenants", str(body.get("error_code", reply.status_code)), str(body.get("message", ""))
            )
        return str(tenants[0]["tenant"])

    # -- DVCQG: session login, then one endpoint dispatching on "service" --------------------
    def _login(self) -> str:
        reply = self.http.post(
            "/dvcqg/v1/api/login",
            headers={"MaDonVi": self.s.unit},
            json={"username": self.s.unit_username, "password": self.s.unit_password},
        )
        body = body_of(reply, "DVCQG", "login")
        if body.get("error_code") != 0:
            raise PlatformError("DVCQG", "login", str(body.get("error_code")), str(body.get("message")))
        self._session = str(body["session"])
        return self._session

    def dvcqg(self, service: str, **fields: Any) -> dict[str, Any]:
        """One DVCQG call; logs in again once when the session is missing, expired or unknown
        (codes 11, 12, 13; the session ends on the tenant's test clock too)."""
        for attempt in (1, 2):
            session = self._session or self._login()
            reply = self.http.post(
                "/dvcqg/v1/api/service",
                headers={"MaDonVi": self.s.unit, "session": session},
                json={"service": service, **fields},
            )
            body = body_of(reply, "DVCQG", service)
            if body.get("error_code") in (11, 12, 13, 16, 18) and attempt == 1:
                self._session = None
                continue
            if body.get("error_code") not in (0, 24):  # 24: a replay, already applied
                detail = body.get("data", [{}])[0] if isinstance(body.get("data"), list) and body["data"] else {}
                message = (detail.get("details") or [{}])[0].get("message") or body.get("message", "")
                raise PlatformError("DVCQG", service, str(detail.get("error_code", body.get("error_code"))), message)
            return body
        raise AssertionError("unreachable")

    def new_dossiers(self) -> list[dict[str, Any]]:
        """Dossiers and events citizens filed on the portal since the last poll (acknowledged)."""
        events: list[dict[str, Any]] = self.dvcqg("LayHoSoTuCongDVCQG", limit=100).get("data", [])
        if events:
            self.dvcqg("XacNhanHoSoTuCongDVCQG", data=[e["event_id"] for e in events])
        return events

    def dossier(self, ma_ho_so: str) -> dict[str, Any]:
        data: dict[str, Any] = self.dvcqg("TraCuuHoSo", MaHoSo=ma_ho_so, LichSu=True)["data"]
        return data

    def fee_of(self, dossier: dict[str, Any]) -> int | None:
        """The catalogue's fee for the dossier's procedure and channel (``None``: variable or unknown)."""
        reply = self.http.get(f"/dvcqg/v1/api/tthc/{dossier.get('MaTTHC', '')}")
        data = body_of(reply, "DVCQG", "tthc").get("data") if reply.status_code == 200 else None
        fees = data.get("LePhi") if isinstance(data, dict) else None
        fee = fees.get(str(dossier.get("KenhThucHien") or 2)) if isinstance(fees, dict) else None
        return int(fee) if isinstance(fee, int) else None

    def receive(self, dossier: dict[str, Any], days: int) -> None:
        """Tiếp nhận: record the receipt date and the promised return date on DVCQG (a received
        dossier must carry both), then report the step."""
        now = self.sandbox_now()
        dates = {"NgayTiepNhan": wire_time(now), "NgayHenTra": wire_time(now + timedelta(days=days))}
        self.dvcqg("DongBoHoSoMC", isUpdating="True", data=[{"MaHoSo": dossier["MaHoSo"], **dates}])
        self.move({**dossier, **dates}, 2, "Tiếp nhận hồ sơ")

    def move(self, dossier: dict[str, Any], status: int, note: str) -> None:
        """Report a step of the dossier's processing (``CapNhatTienDoHoSoMC``)."""
        now = wire_time(self.sandbox_now())
        record = {
            "MaHoSo": dossier["MaHoSo"],
            "NguoiXuLy": self.s.officer,
            "ChucDanh": self.s.officer_title,
            "PhongBanXuLy": self.s.department,
            "NoiDungXuLy": note,
            "ThoiDiemXuLy": now,
            "TrangThai": status,
            "NgayBatDau": now,
            "NgayKetThucTheoQuyDinh": dossier.get("NgayHenTra") or now,
            "IdempotencyKey": uuid.uuid4().hex,
        }
        self.dvcqg("CapNhatTienDoHoSoMC", data=[record])

    # -- VNeID: the national population database ---------------------------------------------
    def verify_citizen(self, number: str, name: str, purpose: str) -> dict[str, Any]:
        token = self.http.post(
            "/vneid/v1/oauth2/token",
            data={"grant_type": "client_credentials", "scope": "population:verify"},
            headers={"Authorization": basic_auth(self.s.client_id, self.s.client_secret)},
        )
        body = body_of(token, "VNeID", "token")
        if token.status_code != 200:
            raise PlatformError("VNeID", "token", str(body.get("error", "?")), str(body.get("error_description", "")))
        reply = self.http.post(
            "/vneid/v1/population/v1/verify",
            headers={"Authorization": f"Bearer {body['access_token']}", "X-Purpose": purpose},
            json={"SoDinhDanh": number, "HoVaTen": name},
        )
        result = body_of(reply, "VNeID", "verify")
        if reply.status_code != 200:
            code = result.get("MaKetQua") or result.get("error_code") or result.get("error", reply.status_code)
            raise PlatformError("VNeID", "verify", str(code), str(result.get("message", "")))
        return result

    # -- PayGov: one payment of the dossier's fees ---------------------------------------------
    def pay_fees(self, dossier: dict[str, Any], fees: list[dict[str, Any]]) -> dict[str, Any]:
        """The payment of ``fees``: the pending one the dossier's fee record names (opened by this
        desk or by the citizen's portal), else a new one; the fee record then names it (DongBoHoSoMC
        ``DanhSachLePhi`` with ``MaDoiTac``, ``MaThamChieu``, ``UrlThanhToan``), so the portal sends
        the citizen to the same payment: one fee request, one payment."""
        total = sum(int(f["SoTien"]) for f in fees)
        payment = self.pending_payment(dossier, total) or self.request_payment(dossier, fees)
        ref = {
            "MaDoiTac": self.s.partner,
            "MaThamChieu": payment["MaThamChieu"],
            "UrlThanhToan": payment["UrlThanhToan"],
        }
        listed = [
            {"LoaiPhiLePhi": f["LoaiPhiLePhi"], "TenPhiLePhi": f["TenPhiLePhi"], "MucPhi": f["SoTien"], **ref}
            for f in fees
        ]
        self.dvcqg("DongBoHoSoMC", isUpdating="True", data=[{"MaHoSo": dossier["MaHoSo"], "DanhSachLePhi": listed}])
        return payment

    def pending_payment(self, dossier: dict[str, Any], total: int) -> dict[str, Any] | None:
        """The payment the dossier's fee record names if it is this partner's and PayGov's QUERY
        finds it still pending (``TrangThaiGD`` 3) for ``total``; ``None``: open a new one."""
        fees = [f for f in dossier.get("DanhSachLePhi") or [] if isinstance(f, dict) and f.get("UrlThanhToan")]
        if not fees or fees[0].get("MaDoiTac") != self.s.partner:
            return None
        query: dict[str, Any] = {
            "LoaiBanTin": "QUERY",
            "PhienBan": "1.0.6",
            "MaDoiTac": self.s.partner,
            "MaThamChieu": fees[0].get("MaThamChieu"),
            "ThoiGianGD": wire_time(self.sandbox_now()),
        }
        query["MaXacThuc"] = checksum(self.s.partner_secret, query, QUERY_ORDER)
        body = body_of(self.http.post("/paygov/v1/payments", json=query), "PayGov", "QUERY")
        if body.get("error_code") != "0" or str(body.get("TrangThaiGD")) != "3" or body.get("SoTien") != total:
            return None
        return {**body, "UrlThanhToan": fees[0]["UrlThanhToan"]}

    def request_payment(self, dossier: dict[str, Any], fees: list[dict[str, Any]]) -> dict[str, Any]:
        now = self.sandbox_now()
        message: dict[str, Any] = {
            "LoaiBanTin": "INIT",
            "PhienBan": "1.0.6",
            "MaDoiTac": self.s.partner,
            "MaThamChieu": f"{dossier['MaHoSo']}:{uuid.uuid4().hex[:8]}",
            "SoTien": sum(int(f["SoTien"]) for f in fees),
            "MaTienTe": "VND",
            "LoaiHinhThanhToan": "PAY",
            "MaKenhThanhToan": "WEB",
            "MaThietBi": "DESKTOP",
            "NgonNgu": "vi-VN",
            "ThoiGianGD": wire_time(now),
            "ThongTinGiaoDich": f"Nộp phí, lệ phí hồ sơ {dossier['MaHoSo']}",
            "Ip": "127.0.0.1",
            "ThongTinBienLai": {
                "MaDichVu": 2,
                "MaTTHC": dossier.get("MaTTHC"),
                "TenTTHC": dossier.get("TenTTHC"),
                "MaDonVi": self.s.unit,
                "MaHoSo": dossier["MaHoSo"],
                "HoTenNguoiNop": dossier.get("ChuHoSo"),
                "SoCMNDNguoiNop": dossier.get("SoGiayToChuHoSo"),
                "PhiLePhi": fees,
            },
        }
        message["MaXacThuc"] = checksum(self.s.partner_secret, message, INIT_ORDER)
        reply = self.http.post("/paygov/v1/payments", json=message)
        body = body_of(reply, "PayGov", "INIT")
        if body.get("error_code") != "0":
            raise PlatformError("PayGov", "INIT", str(body.get("error_code")), str(body.get("message", "")))
        return body
