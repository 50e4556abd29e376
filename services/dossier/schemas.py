"""Wire shapes of the dossier service: the bodies its endpoints take, for validation and
for the OpenAPI documentation. Field names are the platform's (Vietnamese); the service
layer works on the validated dicts. Dossier and progress records themselves are checked
field by field in ``rules.py`` (so each refusal names its field and rule), not here.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.dossier.errors import Code, DvcqgError, detail
from vnsandbox.bounds import MAX_SWITCH_WAIT_S, Amount, Count, Vnd, WaitSeconds

SERVICES = (
    "DongBoHoSoMC",
    "CapNhatTienDoHoSoMC",
    "TraCuuHoSo",
    "LayHoSoTuCongDVCQG",
    "XacNhanHoSoTuCongDVCQG",
    "DoiSoatHoSo",
)


class LoginIn(BaseModel):
    """Session login of a unit's sync account; the unit is named in the ``MaDonVi`` header."""

    model_config = ConfigDict(extra="ignore")
    username: str = Field(min_length=1, max_length=128)
    password: str = Field(min_length=1, max_length=256)


class ServiceCall(BaseModel):
    """One call of the sync API: ``service`` names what to do, ``data`` carries the records."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "example": {
                "service": "DongBoHoSoMC",
                "isUpdating": "False",
                "data": [{"MaHoSo": "000.00.01.H22-240915-12345", "MaTTHC": "1.001193", "TrangThaiHoSo": 2}],
            }
        },
    )
    service: str
    isUpdating: bool | Literal["True", "False", "true", "false", "1", "0"] = "False"
    data: list[Any] | dict[str, Any] | None = None
    session: str | None = None

    @property
    def updating(self) -> bool:
        return self.isUpdating in (True, "True", "true", "1")

    @property
    def items(self) -> list[Any]:
        if self.data is None:
            return []
        return self.data if isinstance(self.data, list) else [self.data]


class UnitIn(BaseModel):
    """Register a unit (đơn vị) and its sync account."""

    model_config = ConfigDict(extra="forbid")
    MaDonVi: str = Field(description="unit code, e.g. 000.00.01.H22")
    TenDonVi: str = ""
    MaDonViCha: str | None = Field(None, description="parent unit that syncs for this one")
    username: str
    password: str
    api_key: str | None = Field(None, description="bearer key accepted instead of a session; generated if absent")
    gateway_client_id: str | None = Field(None, description="gateway client id acting for this unit")
    webhook_url: str | None = Field(None, description="where portal-filed dossiers and citizen actions are sent")
    webhook_secret: str | None = Field(None, description="HMAC secret of the webhook signature; generated if absent")
    signature_scheme: Literal["sandbox", "standard-webhooks"] | None = Field(
        None, description="webhook signature: X-Sandbox-Signature (sandbox, default) or Standard Webhooks headers"
    )
    transition_mode: Literal["strict", "lenient"] | None = None


class UnitPatch(BaseModel):
    """Change a unit's webhook, secret, password, transition mode or gateway client id."""

    model_config = ConfigDict(extra="forbid")
    TenDonVi: str | None = None
    password: str | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = None
    signature_scheme: Literal["sandbox", "standard-webhooks"] | None = None
    transition_mode: Literal["strict", "lenient"] | None = None
    gateway_client_id: str | None = None


class CitizenAction(BaseModel):
    """A citizen's action on the portal: withdraw (``LyDo``) or supplement (``TaiLieuBoSung``)."""

    model_config = ConfigDict(extra="forbid")
    LyDo: str = ""
    TaiLieuBoSung: list[dict[str, Any]] = Field(default_factory=list)


class CitizenPay(BaseModel):
    """The citizen pays a dossier's fees; ``MaNganHang`` pre-selects a bank (or a magic one)."""

    model_config = ConfigDict(extra="forbid")
    MaNganHang: str | None = None


class PaymentEventIn(BaseModel):
    """Payment → dossier contract: a successful payment of a dossier's fees."""

    model_config = ConfigDict(extra="allow")
    MaHoSo: str
    MaGiaoDich: str
    MaThamChieu: str | None = None
    MaDoiTac: str | None = None
    SoTien: Vnd | str
    ThoiGianGD: str | None = None
    TrangThaiGD: Amount | str
    PhiLePhi: list[Any] = Field(default_factory=list)


#: Validation errors about a value's range or length rather than the body's shape: a body
#: of the right shape whose values break such a rule is code 20 (did not pass validation).
VALUE_RULES = frozenset(
    {
        "greater_than",
        "greater_than_equal",
        "less_than",
        "less_than_equal",
        "multiple_of",
        "finite_number",
        "string_too_long",
        "string_too_short",
        "too_long",
        "too_short",
        "string_pattern_mismatch",
    }
)


def parse(model: type[BaseModel], body: Any) -> Any:
    """Validate a request ``body`` against ``model``. A body of the wrong shape (not an
    object, a field missing or of the wrong type) is a malformed request, code 1 / HTTP 400;
    a body of the right shape whose values are out of range or too long did not pass
    validation, code 20. Both name each field in ``details``. Records inside ``data`` are
    checked by ``rules.py`` (code 20)."""
    if not isinstance(body, dict):
        raise DvcqgError(Code.MALFORMED, "The body must be a JSON object", "Nội dung phải là đối tượng JSON")
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        errors = exc.errors()
        details = [detail(".".join(str(p) for p in e["loc"]) or "body", e["type"], e["msg"], e["msg"]) for e in errors]
        # A field of a union type reports one error per member (``int`` too large, not a
        # ``str``): the field's value is out of range when any member says so.
        out_of_range = {e["loc"][:1] for e in errors if e["type"] in VALUE_RULES}
        if all(e["loc"][:1] in out_of_range for e in errors):
            raise DvcqgError(Code.VALIDATION, details=details) from None
        raise DvcqgError(
            Code.MALFORMED,
            "The request does not have the expected shape; see details",
            "Yêu cầu không đúng cấu trúc; xem chi tiết",
            details=details,
        ) from None


def body_doc(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` documenting a JSON body the endpoint parses itself (so that a bad
    body is answered in the DVCQG envelope rather than by the framework)."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema(ref_template="#/$defs/{model}")}},
        }
    }


# -- switch parameters ---------------------------------------------------------------------


class TransientErrorParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    share: float = Field(1.0, ge=0, le=1, allow_inf_nan=False, description="share of calls refused (0 … 1)")


class TimeoutParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seconds: WaitSeconds = 30.0


class SlowParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    delay_ms: float = Field(2000.0, ge=0, le=MAX_SWITCH_WAIT_S * 1000, allow_inf_nan=False)


class ExpiryParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    after: Count = 1


#: The parameters each switch takes (checked when it is set; the others take none). Only the
#: parameters given are stored; the code applying a switch supplies the same defaults.
SWITCH_PARAMS: dict[str, type[BaseModel]] = {
    "sync_transient_error": TransientErrorParams,
    "sync_timeout": TimeoutParams,
    "sync_slow": SlowParams,
    "session_expiry_mid_batch": ExpiryParams,
}
