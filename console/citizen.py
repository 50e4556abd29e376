"""The citizen portal (Cổng DVCQG side) of a tenant: log in with VNeID through the real OpenID
Connect flow (the persona picker is VNeID's own login page), search the procedure catalogue,
file a dossier with attachments, follow its status with dates, answer a supplement request, pay
on PayGov's page, withdraw, open the result. Every step is a call a real portal makes through
the gateway."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

import httpx
from fastapi import APIRouter, File, Form, Path, Request, UploadFile
from fastapi.responses import Response

from console.gateway import GatewayClient, GatewayRefused, Operator
from console.i18n import wire_time
from console.portal import (
    CLIENT_ID,
    CLIENT_NAME,
    LOGIN_ERRORS,
    MAX_FILE_BYTES,
    MAX_FILES,
    SCOPES,
    VNEID_UNAVAILABLE,
    Attachments,
    LoginStart,
    actions,
    client_secret,
    id_token_problem,
    payment_attempts,
    vneid_down,
)
from console.session import SessionCodec
from console.tokens import inspect
from console.web import ROOT, check_origin, client_of, operator_of, public_base, render, see_other, settings_of
from vnsandbox.vn.statuses import STATUS_NAMES

citizen = APIRouter(prefix=f"{ROOT}/t/{{tenant}}/cong-dan")
Tenant = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
DossierCode = Annotated[str, Path(pattern=r"^[0-9A-Za-z.\-]{5,64}$")]
CITIZEN_COOKIE = "vnsb_citizen"
LOGIN_COOKIE = "vnsb_vneid_login"
#: The development unit every tenant has: the portal files there.
UNIT = "000.00.01.H22"


class PortalError(GatewayRefused):
    """The portal refused a step (login, filing): shown on the page, not as a crash."""


def _codec(request: Request) -> SessionCodec:
    codec: SessionCodec = request.app.state.codec
    return codec


def _me(request: Request, tenant: str) -> dict[str, Any]:
    data = _codec(request).unseal(request.cookies.get(CITIZEN_COOKIE))
    return data if data.get("tenant") == tenant else {}


def _base(request: Request, tenant: str) -> str:
    """The portal's address as the browser sees it (through the gateway)."""
    return f"{public_base(request)}{ROOT}/t/{tenant}/cong-dan"


def _attachments(request: Request) -> Attachments:
    return Attachments(settings_of(request).data_dir / "console-files")


def _set(request: Request, response: Response, name: str, data: dict[str, Any] | None, max_age: int) -> Response:
    secure = request.headers.get("x-forwarded-proto", request.url.scheme) == "https"
    if data is None:
        response.delete_cookie(name, path=ROOT)
    else:
        value = _codec(request).seal(data)
        response.set_cookie(name, value, max_age=max_age, path=ROOT, httponly=True, samesite="lax", secure=secure)
    return response


async def _portal_page(request: Request, tenant: str, template: str, status: int = 200, **ctx: Any) -> Response:
    return render(request, template, status, tenant=tenant, me=_me(request, tenant), portal=True, **ctx)


@citizen.get("/", summary="The citizen portal's home")
async def home(request: Request, tenant: Tenant) -> Response:
    me = _me(request, tenant)
    op = operator_of(request, tenant)
    mine = []
    for code in me.get("dossiers", [])[-10:][::-1]:
        try:
            mine.append(await _dossier(client_of(request), op, code))
        except GatewayRefused:
            continue
    return await _portal_page(request, tenant, "citizen_home.html", dossiers=mine, status_names=STATUS_NAMES)


async def _ensure_client(gw: GatewayClient, op: Operator, secret: str, redirect_uri: str) -> None:
    path = f"/vneid/v1/_sandbox/clients/{CLIENT_ID}"
    r = await gw.request(op, "GET", path)
    if r.status_code == 404:
        body = {
            "client_id": CLIENT_ID,
            "client_secret": secret,
            "name": CLIENT_NAME,
            "redirect_uris": [redirect_uri],
            "scopes": SCOPES,
            "require_pkce": True,
        }
        await gw.json(op, "POST", "/vneid/v1/_sandbox/clients", json=body)
        return
    if r.status_code != 200:
        raise GatewayRefused(r.status_code, r.json())
    uris = list(r.json().get("redirect_uris", []))
    await gw.json(op, "PATCH", path, json={"client_secret": secret, "redirect_uris": sorted({*uris, redirect_uri})})


async def _discovery(gw: GatewayClient, op: Operator) -> dict[str, Any]:
    meta: dict[str, Any] = await gw.json(op, "GET", "/vneid/v1/.well-known/openid-configuration")
    return meta


async def _vneid_unavailable(request: Request, tenant: str, exc: GatewayRefused) -> Response:
    """The portal's home with the citizen's message: VNeID did not answer, try again later
    (what VNeID answered in brackets), never a technical error page."""
    vi, en = VNEID_UNAVAILABLE
    return await _portal_page(
        request,
        tenant,
        "citizen_home.html",
        503,
        dossiers=[],
        error=f"{vi} (VNeID: {exc.message_vi})",
        error_en=f"{en} (VNeID: {exc.message_en})",
    )


@citizen.get("/dang-nhap", summary="Log in with VNeID (to VNeID's login page)")
async def login(request: Request, tenant: Tenant) -> Response:
    op, gw = operator_of(request, tenant), client_of(request)
    redirect_uri = _base(request, tenant) + "/callback"
    try:
        meta = await _discovery(gw, op)
        await _ensure_client(gw, op, client_secret(settings_of(request).gateway_secret, tenant), redirect_uri)
    except GatewayRefused as exc:
        if not vneid_down(exc.reply_status):
            raise
        return await _vneid_unavailable(request, tenant, exc)
    start = LoginStart.new()
    url = meta["authorization_endpoint"] + "?" + urlencode(start.params(redirect_uri))
    pending = {"tenant": tenant, "state": start.state, "nonce": start.nonce, "verifier": start.verifier}
    return _set(request, see_other(url), LOGIN_COOKIE, pending, 600)


@citizen.get("/callback", summary="VNeID sends the citizen back here with a code")
async def callback(request: Request, tenant: Tenant, code: str = "", state: str = "", error: str = "") -> Response:
    pending = _codec(request).unseal(request.cookies.get(LOGIN_COOKIE), max_age_s=600)
    if error or not code or pending.get("state") != state or pending.get("tenant") != tenant:
        vi, en = LOGIN_ERRORS.get(error, (error, error)) if error else ("", "")
        vi = vi or "phiên đăng nhập không hợp lệ (state)"
        return await _portal_page(
            request, tenant, "citizen_home.html", 400, dossiers=[], error=vi, error_en=en or "invalid login (state)"
        )
    try:
        return await _finish_login(request, tenant, code, pending)
    except GatewayRefused as exc:
        if not vneid_down(exc.reply_status):
            raise
        return await _vneid_unavailable(request, tenant, exc)


async def _finish_login(request: Request, tenant: str, code: str, pending: dict[str, Any]) -> Response:
    """Redeem the code, check the ID token, read userinfo: the citizen is logged in."""
    op, gw = operator_of(request, tenant), client_of(request)
    meta = await _discovery(gw, op)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": _base(request, tenant) + "/callback",
        "code_verifier": pending["verifier"],
    }
    secret = client_secret(settings_of(request).gateway_secret, tenant)
    r = await gw.browser_link("POST", meta["token_endpoint"], data=form, auth=(CLIENT_ID, secret))
    tokens = _body(r)
    if r.status_code != 200 or not isinstance(tokens, dict) or "id_token" not in tokens:
        raise PortalError(r.status_code, tokens)
    jwks = await gw.json(op, "GET", "/vneid/v1/oauth2/jwks")
    clock = await gw.json(op, "GET", "/_sandbox/clock")
    now = datetime.now(UTC) + timedelta(seconds=float(clock.get("offset_seconds") or 0))
    report = inspect(tokens["id_token"], jwks, now)
    problem = id_token_problem(report.claims, pending["nonce"], report.signature, report.expiry)
    if problem:
        return await _portal_page(request, tenant, "citizen_home.html", 400, dossiers=[], error=problem)
    info = await gw.browser_link(
        "GET", meta["userinfo_endpoint"], headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    claims = _body(info)
    if info.status_code != 200 or not isinstance(claims, dict) or not claims.get("SoDinhDanh"):
        raise PortalError(info.status_code, claims)
    me = {
        "tenant": tenant,
        "sub": str(claims.get("SoDinhDanh") or ""),
        "name": str(claims.get("name") or claims.get("HoVaTen") or report.claims.get("name") or ""),
        "phone": str(claims.get("phone_number") or ""),
        "email": str(claims.get("email") or ""),
        "dossiers": [],
    }
    response = _set(request, see_other(_base_path(tenant) + "/"), CITIZEN_COOKIE, me, 8 * 3600)
    return _set(request, response, LOGIN_COOKIE, None, 0)


def _body(r: httpx.Response) -> Any:
    """A reply's JSON, or its text when it is not JSON (an error page of a proxy)."""
    try:
        return r.json()
    except ValueError:
        return r.text[:200]


def _base_path(tenant: str) -> str:
    return f"{ROOT}/t/{tenant}/cong-dan"


@citizen.post("/dang-xuat", summary="Log the citizen out of the portal")
async def logout(request: Request, tenant: Tenant) -> Response:
    check_origin(request)
    return _set(request, see_other(_base_path(tenant) + "/"), CITIZEN_COOKIE, None, 0)


@citizen.get("/tim-kiem", summary="Search the procedure catalogue")
async def search(request: Request, tenant: Tenant, q: str = "") -> Response:
    found: list[dict[str, Any]] = []
    if q.strip():
        body = await client_of(request).json(
            operator_of(request, tenant), "GET", "/dvcqg/v1/api/tthc", params={"q": q.strip()[:100]}
        )
        found = body.get("data", [])[:30]
    return await _portal_page(request, tenant, "citizen_search.html", q=q, found=found)


async def _procedure(gw: GatewayClient, op: Operator, code: str) -> dict[str, Any]:
    body = await gw.json(op, "GET", f"/dvcqg/v1/api/tthc/{code}")
    data: dict[str, Any] = body.get("data", body)
    return data


def _need_login(request: Request, tenant: str) -> dict[str, Any]:
    me = _me(request, tenant)
    if not me:
        raise PortalError(401, {"message": "Cần đăng nhập bằng VNeID", "message_en": "Log in with VNeID first"})
    return me


@citizen.get("/nop/{procedure}", summary="The filing form of a procedure")
async def filing_form(request: Request, tenant: Tenant, procedure: str) -> Response:
    if not _me(request, tenant):
        return see_other(_base_path(tenant) + "/dang-nhap")
    proc = await _procedure(client_of(request), operator_of(request, tenant), procedure)
    return await _portal_page(
        request, tenant, "citizen_file.html", proc=proc, max_files=MAX_FILES, max_kb=MAX_FILE_BYTES // 1024
    )


async def _store(request: Request, tenant: str, files: list[UploadFile] | None) -> list[dict[str, Any]]:
    store, out = _attachments(request), []
    for upload in [f for f in files or [] if f.filename][:MAX_FILES]:
        content = await upload.read(MAX_FILE_BYTES + 1)
        if len(content) > MAX_FILE_BYTES:
            raise PortalError(
                413,
                {
                    "message": f"Tệp {upload.filename} lớn hơn {MAX_FILE_BYTES // 1024} KB",
                    "message_en": f"File {upload.filename} is over {MAX_FILE_BYTES // 1024} KB",
                },
            )
        file_id = store.put(tenant, upload.filename or "tep", content)
        out.append(
            {
                "TenTepDinhKem": upload.filename,
                "DuongDanTaiLieu": f"{_base(request, tenant)}/tep/{file_id}",
                "DuocSoHoa": 1,
            }
        )
    return out


@citizen.post("/nop/{procedure}", summary="File a dossier")
async def file_dossier(
    request: Request,
    tenant: Tenant,
    procedure: str,
    phone: Annotated[str, Form(max_length=20)] = "",
    email: Annotated[str, Form(max_length=120)] = "",
    address: Annotated[str, Form(max_length=300)] = "",
    summary: Annotated[str, Form(max_length=500)] = "",
    files: Annotated[list[UploadFile] | None, File()] = None,
) -> Response:
    check_origin(request)
    me = _need_login(request, tenant)
    record: dict[str, Any] = {"MaDonVi": UNIT, "MaTTHC": procedure, "ChuHoSo": me["name"], "SoGiayToChuHoSo": me["sub"]}
    record |= {
        k: v.strip()
        for k, v in (("SoDienThoai", phone), ("Email", email), ("DiaChiChuHoSo", address), ("TrichYeuHoSo", summary))
        if v.strip()
    }
    documents = await _store(request, tenant, files)
    if documents:
        record["TaiLieuNop"] = documents
    op, gw = operator_of(request, tenant), client_of(request)
    r = await gw.request(op, "POST", "/dvcqg/v1/_sandbox/citizen-dossiers", json=record)
    body = r.json()
    if r.status_code != 200:
        proc = await _procedure(gw, op, procedure)
        return await _portal_page(
            request,
            tenant,
            "citizen_file.html",
            422,
            proc=proc,
            max_files=MAX_FILES,
            max_kb=MAX_FILE_BYTES // 1024,
            problems=body.get("details") or [body],
        )
    code = body["data"]["MaHoSo"]
    me["dossiers"] = [*me.get("dossiers", []), code][-20:]
    return _set(request, see_other(f"{_base_path(tenant)}/ho-so/{code}"), CITIZEN_COOKIE, me, 8 * 3600)


async def _dossier(gw: GatewayClient, op: Operator, code: str) -> dict[str, Any]:
    body = await gw.json(op, "GET", f"/dvcqg/v1/_sandbox/dossiers/{code}")
    data: dict[str, Any] = body["data"]
    return data


async def _own_dossier(request: Request, tenant: str, code: str) -> dict[str, Any]:
    me = _need_login(request, tenant)
    dossier = await _dossier(client_of(request), operator_of(request, tenant), code)
    if dossier.get("SoGiayToChuHoSo") != me["sub"]:
        raise PortalError(403, {"message": "Hồ sơ không phải của bạn", "message_en": "Not your dossier"})
    return dossier


@citizen.get("/ho-so/{code}", summary="A dossier's status, history and actions")
async def dossier_page(request: Request, tenant: Tenant, code: DossierCode) -> Response:
    dossier = await _own_dossier(request, tenant, code)
    status = int(dossier.get("TrangThaiHoSo") or 0)
    history = [
        {
            "when": wire_time(h.get("ThoiDiem")),
            "status": h.get("TrangThai"),
            "name": STATUS_NAMES.get(h.get("TrangThai") or 0, ""),
            "kind": h.get("kind"),
            "outcome": h.get("outcome"),
            "note": h["data"].get("NoiDungXuLy") if isinstance(h.get("data"), dict) else None,
        }
        for h in dossier.get("LichSu", [])
    ]
    fees = dossier.get("DanhSachLePhi") or []
    total = sum(int(f.get("SoTien") or f.get("MucPhi") or 0) for f in fees if isinstance(f, dict))
    payments = await _payments(client_of(request), operator_of(request, tenant), code) if fees else []
    return await _portal_page(
        request,
        tenant,
        "citizen_dossier.html",
        d=dossier,
        state=status,
        status_name=STATUS_NAMES.get(status, ""),
        history=history,
        can=actions(status, paid=dossier.get("DuocThanhToanTrucTuyen") == 1),
        fees=fees,
        total=total,
        payments=payments,
        wire_time=wire_time,
    )


async def _payments(gw: GatewayClient, op: Operator, code: str) -> list[dict[str, Any]]:
    """The dossier's payment attempts as PayGov sees them (the portal is its partner, told every
    outcome): newest first. PayGov not answering leaves the list out, not the page."""
    try:
        body = await gw.json(op, "GET", "/paygov/v1/_sandbox/payments", params={"limit": "200"})
    except GatewayRefused:
        return []
    return payment_attempts(body.get("payments", []) if isinstance(body, dict) else [], code)


@citizen.post("/ho-so/{code}/rut", summary="Withdraw a dossier")
async def withdraw(
    request: Request, tenant: Tenant, code: DossierCode, reason: Annotated[str, Form(max_length=300)] = ""
) -> Response:
    check_origin(request)
    await _own_dossier(request, tenant, code)
    await client_of(request).json(
        operator_of(request, tenant),
        "POST",
        f"/dvcqg/v1/_sandbox/citizen-dossiers/{code}/withdraw",
        json={"LyDo": reason.strip() or "Công dân rút hồ sơ"},
    )
    return see_other(f"{_base_path(tenant)}/ho-so/{code}")


@citizen.post("/ho-so/{code}/bo-sung", summary="Answer a supplement request")
async def supplement(
    request: Request, tenant: Tenant, code: DossierCode, files: Annotated[list[UploadFile] | None, File()] = None
) -> Response:
    check_origin(request)
    await _own_dossier(request, tenant, code)
    documents = await _store(request, tenant, files)
    items = [{"TenGiayTo": d["TenTepDinhKem"], "DuongDan": d["DuongDanTaiLieu"]} for d in documents]
    await client_of(request).json(
        operator_of(request, tenant),
        "POST",
        f"/dvcqg/v1/_sandbox/citizen-dossiers/{code}/supplement",
        json={"TaiLieuBoSung": items},
    )
    return see_other(f"{_base_path(tenant)}/ho-so/{code}")


@citizen.post("/ho-so/{code}/thanh-toan", summary="Pay the dossier's fees on PayGov's page")
async def pay(request: Request, tenant: Tenant, code: DossierCode) -> Response:
    check_origin(request)
    await _own_dossier(request, tenant, code)
    body = await client_of(request).json(
        operator_of(request, tenant), "POST", f"/dvcqg/v1/_sandbox/citizen-dossiers/{code}/pay", json={}
    )
    return see_other(str(body["data"]["UrlThanhToan"]))


@citizen.get("/tep/{file_id}", summary="An attached file")
async def attachment(request: Request, tenant: Tenant, file_id: str) -> Response:
    found = _attachments(request).get(tenant, file_id)
    if found is None:
        raise PortalError(404, {"message": "Không có tệp này", "message_en": "No such file"})
    name, content = found
    return Response(
        content,
        media_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{name.encode("ascii", "replace").decode()}"'},
    )
