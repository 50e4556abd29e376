"""``vnsandbox trigger EVENT``: make the platform emit an event now (as ``stripe trigger``),
through the sandbox's public and control APIs, as the tenant.

| event | what happens |
|---|---|
| ``dossier.filed`` | a citizen files a dossier on the portal for ``--unit`` |
| ``dossier.withdrawn`` | the citizen withdraws it (``--dossier``, or one filed first) |
| ``dossier.paid`` | the payment platform reports its fees paid (``--dossier``, or one filed first) |
| ``payment.succeeded`` / ``payment.failed`` | ``--partner`` opens a payment the platform completes at once |

Payments use the magic banks ``SANDBOX_OK`` / ``SANDBOX_NOFUNDS``; the result notice goes to the
partner's notice URL (the built-in development partner has none, so none is sent).
"""

from __future__ import annotations

import argparse
import time
import uuid
from typing import Any

from launcher.kit.client import KitError, Sandbox, add_connection, command, guarded, print_json, sandbox_of
from services.payment.protocol import PartnerKey, wire_time

DEV_UNIT = "000.00.01.H22"
DEV_PARTNER = "SANDBOX"
CITIZEN = {
    "MaTTHC": "1.001193",
    "ChuHoSo": "Lê Thị Cúc",
    "SoGiayToChuHoSo": "001190054321",
    "SoDienThoai": "0987654321",
    "Email": "cuc@example.vn",
}
EVENTS = ("dossier.filed", "dossier.withdrawn", "dossier.paid", "payment.succeeded", "payment.failed")


def _dvcqg(sandbox: Sandbox, path: str, body: dict[str, Any]) -> dict[str, Any]:
    reply: dict[str, Any] = sandbox.call("POST", "/dvcqg/v1/_sandbox" + path, json=body)
    if reply.get("error_code") != 0:
        raise KitError(f"{path} answered code {reply.get('error_code')}: {reply.get('message_en')}")
    return reply


def file_dossier(sandbox: Sandbox, unit: str) -> str:
    reply = _dvcqg(sandbox, "/citizen-dossiers", {"MaDonVi": unit, **CITIZEN})
    return str(reply["data"]["MaHoSo"])


def trigger_dossier(sandbox: Sandbox, args: argparse.Namespace) -> dict[str, Any]:
    if args.event == "dossier.filed":
        return {"event": args.event, "MaHoSo": file_dossier(sandbox, args.unit)}
    code = args.dossier or file_dossier(sandbox, args.unit)
    if args.event == "dossier.withdrawn":
        _dvcqg(sandbox, f"/citizen-dossiers/{code}/withdraw", {"LyDo": "Thử sự kiện (vnsandbox trigger)"})
        return {"event": args.event, "MaHoSo": code}
    paid = {
        "MaHoSo": code,
        "MaGiaoDich": "TRG" + uuid.uuid4().hex[:12].upper(),
        "MaThamChieu": f"{code}:trigger",
        "MaDoiTac": DEV_PARTNER,
        "SoTien": args.amount,
        "ThoiGianGD": wire_time(time.time()),
        "TrangThaiGD": 1,
    }
    _dvcqg(sandbox, "/payment-events", paid)
    return {"event": args.event, "MaHoSo": code, "MaGiaoDich": paid["MaGiaoDich"]}


def trigger_payment(sandbox: Sandbox, args: argparse.Namespace) -> dict[str, Any]:
    partner = sandbox.call("GET", f"/paygov/v1/_sandbox/partners/{args.partner}")
    key = PartnerKey(partner["code"], partner["secret"], partner["algorithm"], partner["field_orders"])
    init = {
        "LoaiBanTin": "INIT",
        "PhienBan": "1.0.6",
        "MaDoiTac": key.code,
        "MaThamChieu": "TRIGGER-" + uuid.uuid4().hex[:12],
        "SoTien": args.amount,
        "MaTienTe": "VND",
        "LoaiHinhThanhToan": "PAY",
        "MaKenhThanhToan": "WEB",
        "MaThietBi": "DESKTOP",
        "NgonNgu": "vi-VN",
        "MaNganHang": "SANDBOX_OK" if args.event == "payment.succeeded" else "SANDBOX_NOFUNDS",
        "ThoiGianGD": wire_time(time.time()),
        "ThongTinGiaoDich": "Thử sự kiện (vnsandbox trigger)",
        "Ip": "127.0.0.1",
    }
    reply = sandbox.call("POST", "/paygov/v1/payments", json=key.sign("INIT", init))
    out = {"event": args.event, "MaThamChieu": init["MaThamChieu"], "MaGiaoDich": reply.get("MaGiaoDich")}
    if not partner.get("notice_url"):
        out["note"] = f"partner {key.code} has no notice_url: the payment is done, no notice is sent"
    return out


def cmd_trigger(args: argparse.Namespace) -> int:
    if args.amount <= 0 or args.amount % 100 in (12, 51):
        raise KitError("--amount must be positive and not end in 12 or 51 (those make a payment fail)")
    sandbox = sandbox_of(args)
    out = trigger_payment(sandbox, args) if args.event.startswith("payment.") else trigger_dossier(sandbox, args)
    if args.json:
        print_json(out)
    else:
        print(" ".join(f"{k}={v}" for k, v in out.items() if k != "note"))
        if "note" in out:
            print(f"note: {out['note']}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    trigger = command(
        sub,
        "trigger",
        "make the platform emit an event now: " + ", ".join(EVENTS),
        "vnsandbox trigger dossier.filed --unit 000.00.01.H22\nvnsandbox trigger payment.succeeded --partner HCM_MCDT",
    )
    trigger.add_argument("event", choices=EVENTS)
    trigger.add_argument("--unit", default=DEV_UNIT, help=f"the DVCQG unit receiving the dossier (default {DEV_UNIT})")
    trigger.add_argument("--dossier", help="the dossier (MaHoSo) to withdraw or pay (default: file a new one)")
    trigger.add_argument("--partner", default=DEV_PARTNER, help=f"the PayGov partner (default {DEV_PARTNER})")
    trigger.add_argument("--amount", type=int, default=150_000, help="đồng (default 150000)")
    trigger.add_argument("--json", action="store_true", help="print what was made as JSON")
    add_connection(trigger)
    trigger.set_defaults(func=guarded(cmd_trigger))
