// A provincial system in Node, against the sandbox through its gateway, with plain fetch:
// a citizen logs in with VNeID (authorization code + PKCE, headless), the province syncs the
// dossier to DVCQG, and the fee is paid on PayGov (MaXacThuc checksums with node:crypto).
//   VNSB_URL=http://127.0.0.1:8000 node main.mjs
// Uses VNSB_API_KEY's tenant when set, else creates a throwaway tenant and deletes it at the end.
import { createHash, createHmac, randomBytes } from "node:crypto";

const GW = (process.env.VNSB_URL || "http://127.0.0.1:8000").replace(/\/$/, "");
let apiKey = process.env.VNSB_API_KEY;
let tenant = null;

async function call(method, path, { body, headers = {}, form, redirect = "follow" } = {}) {
  const init = { method, redirect, headers: { "X-API-Key": apiKey, ...headers } };
  if (form) init.body = new URLSearchParams(form);
  else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["content-type"] = "application/json";
  }
  const url = path.startsWith("http") ? path : GW + path;
  const resp = await fetch(url, init);
  const text = await resp.text();
  let data = text;
  try { data = JSON.parse(text); } catch { /* not JSON */ }
  return { status: resp.status, headers: resp.headers, data };
}

function check(cond, what, detail) {
  if (!cond) throw new Error(`${what}: ${JSON.stringify(detail)}`);
}

const b64url = (buf) => buf.toString("base64url");
const wireTime = (d = new Date()) =>
  new Date(d.getTime() + 7 * 3600e3).toISOString().replace(/[-:T]/g, "").slice(0, 14);

async function login() {
  const client = (await call("POST", "/vneid/v1/_sandbox/clients", { body: {
    client_id: "node-" + randomBytes(4).toString("hex"), redirect_uris: ["http://localhost:3000/callback"],
    scopes: ["openid", "profile"], grant_types: ["authorization_code"], auth_methods: ["client_secret_basic"] } })).data;
  const person = (await call("POST", "/vneid/v1/_sandbox/personas", { body: {
    HoVaTen: "Võ Thị Lan", NgayThangNamSinh: "19950812", GioiTinh: "Nữ", MucDoXacThuc: 2 } })).data;
  const meta = (await call("GET", "/vneid/v1/.well-known/openid-configuration")).data;
  const verifier = b64url(randomBytes(48));
  const challenge = b64url(createHash("sha256").update(verifier).digest());
  const q = new URLSearchParams({ response_type: "code", client_id: client.client_id,
    redirect_uri: client.redirect_uris[0], scope: "openid profile", state: "s-" + b64url(randomBytes(6)),
    nonce: b64url(randomBytes(8)), code_challenge: challenge, code_challenge_method: "S256",
    login_hint: person.SoDinhDanh, acr_values: "2" });
  const auth = await call("GET", `${meta.authorization_endpoint}?${q}`, { redirect: "manual" });
  check(auth.status === 302, "authorize", auth.data);
  const code = new URL(auth.headers.get("location")).searchParams.get("code");
  const basic = Buffer.from(`${client.client_id}:${client.client_secret}`).toString("base64");
  const tokens = await call("POST", meta.token_endpoint, { headers: { authorization: `Basic ${basic}` },
    form: { grant_type: "authorization_code", code, redirect_uri: client.redirect_uris[0], code_verifier: verifier } });
  check(tokens.status === 200, "token", tokens.data);
  const info = await call("GET", meta.userinfo_endpoint, { headers: { authorization: `Bearer ${tokens.data.access_token}` } });
  check(info.data.SoDinhDanh === person.SoDinhDanh, "userinfo", info.data);
  return info.data;
}

async function syncDossier(citizen) {
  const unit = "000.00.01.H22";
  const units = await call("GET", `/dvcqg/v1/_sandbox/units/${unit}`);
  if (units.status === 404) {
    await call("POST", "/dvcqg/v1/_sandbox/units", { body: { MaDonVi: unit, username: "sandbox", password: "sandbox" } });
  }
  const session = (await call("POST", "/dvcqg/v1/api/login", { headers: { MaDonVi: unit },
    body: { username: "sandbox", password: "sandbox" } })).data.session;
  const now = new Date();
  const maHoSo = `${unit}-${wireTime(now).slice(2, 8)}-${String(10000 + Math.floor(Math.random() * 80000))}`;
  const record = { MaHoSo: maHoSo, MaTTHC: "1.001193", TenTTHC: "Thủ tục đăng ký khai sinh", KenhThucHien: 2,
    ChuHoSo: citizen.HoVaTen, LoaiDoiTuong: 1, SoGiayToChuHoSo: citizen.SoDinhDanh, SoDienThoai: "0905123456",
    DiaChiChuHoSo: "Hội An, Quảng Nam", NgayTiepNhan: wireTime(new Date(now - 60e3)),
    NgayHenTra: wireTime(new Date(now.getTime() + 5 * 86400e3)), TrangThaiHoSo: 2, TaiKhoanDuocXacThucVoiVNeID: 1, DanhSachLePhi: [] };
  const reply = await call("POST", "/dvcqg/v1/api/service", { headers: { session },
    body: { service: "DongBoHoSoMC", isUpdating: "False", data: [record] } });
  check(reply.data.error_code === 0, "DongBoHoSoMC", reply.data);
  return maHoSo;
}

async function pay(maHoSo) {
  const partner = "NODE_" + randomBytes(3).toString("hex").toUpperCase();
  const secret = b64url(randomBytes(24));
  const cfg = (await call("PUT", `/paygov/v1/_sandbox/partners/${partner}`, { body: { secret } })).data;
  const mac = (fields, type) => createHmac("sha256", secret)
    .update(cfg.field_orders[type].map((f) => fields[f] ?? "").join("|")).digest("hex");
  const init = { LoaiBanTin: "INIT", PhienBan: "1.0.6", MaDoiTac: partner, MaThamChieu: "NODE-" + Date.now(),
    SoTien: 150000, MaTienTe: "VND", LoaiHinhThanhToan: "PAY", MaKenhThanhToan: "WEB", MaThietBi: "DESKTOP",
    NgonNgu: "vi-VN", ThoiGianGD: wireTime(), ThongTinGiaoDich: "Nộp lệ phí hồ sơ", Ip: "203.0.113.7",
    ThongTinBienLai: { MaDichVu: 2, MaHoSo: maHoSo, HoTenNguoiNop: "Võ Thị Lan",
      PhiLePhi: [{ LoaiPhiLePhi: 2, MaPhiLePhi: "LP01", TenPhiLePhi: "Lệ phí", SoTien: 150000 }] } };
  const started = await call("POST", "/paygov/v1/payments", { body: { ...init, MaXacThuc: mac(init, "INIT") } });
  check(String(started.data.error_code) === "0", "INIT", started.data);
  check(mac(started.data, "INIT_REPLY") === started.data.MaXacThuc, "INIT reply checksum", started.data);
  await call("POST", `/paygov/v1/_sandbox/payments/${started.data.MaGiaoDich}/complete`,
    { body: { outcome: "success", MaNganHang: "VCB" } });
  const query = { LoaiBanTin: "QUERY", PhienBan: "1.0.6", MaDoiTac: partner, MaThamChieu: init.MaThamChieu,
    ThoiGianGD: wireTime() };
  const status = await call("POST", "/paygov/v1/payments", { body: { ...query, MaXacThuc: mac(query, "QUERY") } });
  check(status.data.TrangThaiGD === 1, "QUERY", status.data);
  return status.data.MaGiaoDich;
}

async function main() {
  if (!apiKey) {
    const created = await fetch(`${GW}/_sandbox/tenants`, { method: "POST", body: "{}",
      headers: { "content-type": "application/json" } });
    const body = await created.json();
    check(created.status === 201, "create tenant", body);
    tenant = body.tenant;
    apiKey = body.consumer.credentials.api_key;
  }
  try {
    const citizen = await login();
    console.log(`logged in: ${citizen.HoVaTen} (${citizen.SoDinhDanh}), level ${citizen.MucDoXacThuc}`);
    const maHoSo = await syncDossier(citizen);
    console.log(`dossier synced: ${maHoSo}`);
    console.log(`paid: ${await pay(maHoSo)}`);
  } finally {
    if (tenant) await call("DELETE", `/_sandbox/tenants/${tenant}`);
  }
}

main().catch((err) => { console.error(err.message || err); process.exit(1); });
