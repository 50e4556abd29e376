"""Wire formats of the identity service: Vietnamese attribute names on the wire, English in
the code, mapped here once.

Choices where the real platform's detail is not public (documented in docs/identity.md):
dates are ``YYYYMMDD``; ``GioiTinh`` is ``Nam`` / ``Nữ``; ``LoaiTaiKhoan`` is ``1`` citizen,
``2`` business, ``3`` agency; ``MucDoXacThuc`` and ``acr`` are ``"1"`` / ``"2"``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from services.identity.models import Client, Person
from services.identity.people import RESULT_TEXT, Verification
from vnsandbox.bounds import Amount, Seed, WaitSeconds

SEX_TO_WIRE = {"M": "Nam", "F": "Nữ"}
SEX_FROM_WIRE = {"nam": "M", "m": "M", "male": "M", "nữ": "F", "nu": "F", "f": "F", "female": "F"}
ACCOUNT_TYPE_TO_WIRE = {"citizen": "1", "business": "2", "agency": "3"}
ACCOUNT_TYPE_FROM_WIRE = {v: k for k, v in ACCOUNT_TYPE_TO_WIRE.items()}
#: ``loginIdp`` of the userinfo claims: the identity provider behind VNeID (the Ministry of Public Security).
LOGIN_IDP = "BCA"


def date_to_wire(value: date | None) -> str | None:
    return value.strftime("%Y%m%d") if value else None


def _parse_date(value: Any) -> Any:
    if isinstance(value, str) and len(value) == 8 and value.isdigit():
        try:
            return datetime.strptime(value, "%Y%m%d").date()
        except ValueError:
            raise ValueError("not a real date (YYYYMMDD)") from None
    return value


def _parse_sex(value: Any) -> Any:
    if isinstance(value, str):
        sex = SEX_FROM_WIRE.get(value.strip().casefold())
        if sex is None:
            raise ValueError("GioiTinh must be Nam or Nữ")
        return sex
    return value


def _parse_account_type(value: Any) -> Any:
    if isinstance(value, str | int) and str(value) in ACCOUNT_TYPE_FROM_WIRE:
        return ACCOUNT_TYPE_FROM_WIRE[str(value)]
    return value


WireDate = Annotated[
    date, BeforeValidator(_parse_date), PlainSerializer(date_to_wire, return_type=str, when_used="json")
]
WireSex = Annotated[str, BeforeValidator(_parse_sex), Field(pattern="^[MF]$")]
Number = Annotated[str, Field(description="số định danh cá nhân, 12 digits", examples=["033096674891"])]


class PersonaIn(BaseModel):
    """A persona to create (``SoDinhDanh`` may be left out: a consistent one is made up)."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    number: Number | None = Field(None, alias="SoDinhDanh")
    full_name: str = Field(alias="HoVaTen", min_length=1, max_length=128)
    birth_date: WireDate = Field(alias="NgayThangNamSinh", description="YYYYMMDD")
    sex: WireSex = Field(alias="GioiTinh", description="Nam / Nữ")
    nationality: str = Field("VNM", alias="QuocTich", pattern="^[A-Z]{3}$")
    address: str = Field("", alias="DiaChiThuongTru", max_length=256)
    phone: str = Field("", alias="SoDienThoai", max_length=16)
    email: str = Field("", alias="Email", max_length=128)
    level: int = Field(2, alias="MucDoXacThuc", ge=0, le=2, description="0 no account, 1, 2")
    account_type: Annotated[str, BeforeValidator(_parse_account_type)] = Field(
        "citizen", alias="LoaiTaiKhoan", pattern="^(citizen|business|agency)$"
    )
    death_date: WireDate | None = Field(None, alias="NgayMat")
    document_issued: WireDate | None = Field(None, alias="NgayCapGiayTo")
    document_expires: WireDate | None = Field(None, alias="NgayHetHanGiayTo")
    household_id: str = Field("", alias="MaHoGiaDinh", max_length=16)
    birth_province_code: str | None = Field(
        None, alias="MaTinhKhaiSinh", pattern="^[0-9]{3}$", description="for a made-up number (default 001)"
    )


def _drop_null_from_non_nullable(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """The JSON schema of a :class:`PatchModel`: ``null`` only where the model allows it."""
    nullable: frozenset[str] = getattr(model, "nullable", frozenset())
    for name, field in model.model_fields.items():
        prop = schema.get("properties", {}).get(field.alias or name)
        if name in nullable or prop is None or "anyOf" not in prop:
            continue
        kept = [s for s in prop.pop("anyOf") if s.get("type") != "null"]
        prop.pop("default", None)
        if len(kept) == 1:
            prop.update(kept[0])
        else:
            prop["anyOf"] = kept


class PatchModel(BaseModel):
    """A PATCH body: a field left out keeps its value; ``null`` clears a field named in
    :attr:`nullable` and is a 422 ``VALIDATION_ERROR`` (rule ``not_null``) for any other."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid", json_schema_extra=_drop_null_from_non_nullable)

    #: Fields ``null`` may clear (nullable columns).
    nullable: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _refuse_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in cls.nullable:
            raise PydanticCustomError("not_null", "may not be null (leave the field out to keep its value)")
        return value


class PersonaPatch(PatchModel):
    """Fields of a persona to change (others stay)."""

    nullable: ClassVar[frozenset[str]] = frozenset({"death_date", "document_issued", "document_expires"})

    full_name: str | None = Field(None, alias="HoVaTen", min_length=1, max_length=128)
    birth_date: WireDate | None = Field(None, alias="NgayThangNamSinh")
    sex: WireSex | None = Field(None, alias="GioiTinh")
    nationality: str | None = Field(None, alias="QuocTich", pattern="^[A-Z]{3}$")
    address: str | None = Field(None, alias="DiaChiThuongTru", max_length=256)
    phone: str | None = Field(None, alias="SoDienThoai", max_length=16)
    email: str | None = Field(None, alias="Email", max_length=128)
    level: int | None = Field(None, alias="MucDoXacThuc", ge=0, le=2)
    account_type: Annotated[str | None, BeforeValidator(_parse_account_type)] = Field(
        None, alias="LoaiTaiKhoan", pattern="^(citizen|business|agency)$"
    )
    death_date: WireDate | None = Field(None, alias="NgayMat")
    document_issued: WireDate | None = Field(None, alias="NgayCapGiayTo")
    document_expires: WireDate | None = Field(None, alias="NgayHetHanGiayTo")
    household_id: str | None = Field(None, alias="MaHoGiaDinh", max_length=16)


class DeceasedIn(BaseModel):
    death_date: WireDate | None = Field(None, alias="NgayMat", description="YYYYMMDD; default today (test clock)")


class LevelIn(BaseModel):
    level: int = Field(alias="MucDoXacThuc", ge=0, le=2, description="0 no account, 1 or 2")


def person_to_wire(p: Person, today: date | None = None) -> dict[str, Any]:
    """A person as the control plane and the population look-up show it."""
    out: dict[str, Any] = {
        "SoDinhDanh": p.cccd,
        "TechID": p.tech_id,
        "HoVaTen": p.full_name,
        "NgayThangNamSinh": date_to_wire(p.birth_date),
        "GioiTinh": SEX_TO_WIRE.get(p.sex, p.sex),
        "QuocTich": p.nationality,
        "DiaChiThuongTru": p.address,
        "MaXaPhuong": p.ward_code,
        "MaTinh": p.province_code,
        "MaHoGiaDinh": p.household_id,
        "QuanHeVoiChuHo": p.household_role,
        "SoDienThoai": p.phone,
        "Email": p.email,
        "MucDoXacThuc": str(p.level),
        "LoaiTaiKhoan": ACCOUNT_TYPE_TO_WIRE.get(p.account_type, p.account_type),
        "NgayMat": date_to_wire(p.death_date),
        "NgayCapGiayTo": date_to_wire(p.document_issued),
        "NgayHetHanGiayTo": date_to_wire(p.document_expires),
    }
    if today is not None:
        out["Tuoi"] = (
            today.year - p.birth_date.year - ((today.month, today.day) < (p.birth_date.month, p.birth_date.day))
        )
    return out


def persona_to_control(p: Person, today: date) -> dict[str, Any]:
    return person_to_wire(p, today) | {"source": p.source}


#: Userinfo claims released per scope: (wire name, getter).
def userinfo_claims(p: Person, scopes: list[str], acr: str) -> dict[str, Any]:
    """Userinfo: the real SSO's Vietnamese attributes plus the standard OIDC claims."""
    out: dict[str, Any] = {
        "sub": p.tech_id,
        "TechID": p.tech_id,
        "LoaiTaiKhoan": ACCOUNT_TYPE_TO_WIRE.get(p.account_type, p.account_type),
        "loginIdp": LOGIN_IDP,
        "MucDoXacThuc": acr,
        "acr": acr,
    }
    if "profile" in scopes:
        family, _, given = p.full_name.partition(" ")
        out |= {
            "HoVaTen": p.full_name,
            "SoDinhDanh": p.cccd,
            "NgayThangNamSinh": date_to_wire(p.birth_date),
            "GioiTinh": SEX_TO_WIRE.get(p.sex, p.sex),
            "name": p.full_name,
            "family_name": family if p.nationality == "VNM" else p.full_name.rpartition(" ")[2],
            "given_name": (given.rpartition(" ")[2] or family) if p.nationality == "VNM" else p.full_name.split(" ")[0],
            "birthdate": p.birth_date.isoformat(),
            "gender": "male" if p.sex == "M" else "female",
        }
    if "address" in scopes:
        out |= {"DiaChiThuongTru": p.address, "address": {"formatted": p.address, "country": "VN"}}
    if "phone" in scopes:
        out |= {"SoDienThoai": p.phone, "phone_number": p.phone}
    if "email" in scopes:
        out |= {"Email": p.email, "email": p.email}
        if p.email:
            out["email_verified"] = False
    return out


#: Fields of userinfo that are a person's data (what the audit record lists).
def released_fields(claims: dict[str, Any]) -> list[str]:
    return [k for k in claims if k[0].isupper() and k not in ("TechID", "LoaiTaiKhoan", "MucDoXacThuc")]


# -- clients -----------------------------------------------------------------------------------


class ClientIn(BaseModel):
    """A relying party to register (a province's system)."""

    model_config = ConfigDict(extra="forbid")

    client_id: str = Field(
        min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$", description="any name but `default`"
    )
    client_secret: str | None = Field(None, max_length=256, description="generated when left out")
    name: str = Field("", max_length=256)
    redirect_uris: list[str] = Field(default_factory=list)
    post_logout_redirect_uris: list[str] = Field(default_factory=list)
    scopes: list[str] = Field(default_factory=lambda: ["openid", "profile"])
    grant_types: list[str] = Field(default_factory=lambda: ["authorization_code", "refresh_token"])
    auth_methods: list[str] = Field(
        default_factory=lambda: ["client_secret_basic"],
        description="client_secret_basic, client_secret_post, private_key_jwt, none",
    )
    jwks: dict[str, Any] = Field(default_factory=dict, description="public keys for private_key_jwt")
    required_level: int = Field(1, ge=1, le=2)
    require_pkce: bool = False

    @field_validator("client_id")
    @classmethod
    def _not_default(cls, value: str) -> str:
        if value == "default":  # /_sandbox/clients/default is the development client's page
            raise PydanticCustomError("reserved_name", "`default` is reserved; choose another client_id")
        return value


class ClientPatch(PatchModel):
    """Fields of a client to change (others stay); none of them can be cleared with ``null``."""

    client_secret: str | None = Field(None, max_length=256)
    name: str | None = Field(None, max_length=256)
    redirect_uris: list[str] | None = None
    post_logout_redirect_uris: list[str] | None = None
    scopes: list[str] | None = None
    grant_types: list[str] | None = None
    auth_methods: list[str] | None = None
    jwks: dict[str, Any] | None = None
    required_level: int | None = Field(None, ge=1, le=2)
    require_pkce: bool | None = None


def client_to_wire(c: Client, base_tenant: str) -> dict[str, Any]:
    return {
        "client_id": c.client_id,
        "client_secret": c.client_secret,
        "name": c.name,
        "redirect_uris": c.redirect_uris,
        "post_logout_redirect_uris": c.post_logout_redirect_uris,
        "scopes": c.scopes,
        "grant_types": c.grant_types,
        "auth_methods": c.auth_methods,
        "jwks": c.jwks,
        "required_level": c.required_level,
        "require_pkce": c.require_pkce,
        "built_in": c.tenant == base_tenant,
    }


class SeedIn(BaseModel):
    people: Amount = Field(description="how many people to generate for this tenant")
    seed: Seed = Field(0, description="the same seed gives the same people (0 … 2^31 - 1)")


# -- population verification ------------------------------------------------------------------


class VerifyIn(BaseModel):
    """Fields a provincial system submits to verify a citizen (any subset besides the number)."""

    model_config = ConfigDict(extra="forbid")

    SoDinhDanh: str = Field(description="12 digits")
    HoVaTen: str | None = None
    NgayThangNamSinh: WireDate | None = Field(None, description="YYYYMMDD")
    GioiTinh: WireSex | None = Field(None, description="Nam / Nữ")
    DiaChiThuongTru: str | None = None

    def submitted(self) -> dict[str, Any]:
        return {
            "full_name": self.HoVaTen,
            "birth_date": self.NgayThangNamSinh,
            "sex": self.GioiTinh,
            "address": self.DiaChiThuongTru,
        }


class VerifyBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    DanhSach: list[VerifyIn]


FIELD_TO_WIRE = {
    "full_name": "HoVaTen",
    "birth_date": "NgayThangNamSinh",
    "sex": "GioiTinh",
    "address": "DiaChiThuongTru",
}


def verification_to_wire(v: Verification) -> dict[str, Any]:
    vi, en = RESULT_TEXT[v.result]
    out: dict[str, Any] = {
        "SoDinhDanh": v.number,
        "MaKetQua": v.result,
        "MoTaKetQua": vi,
        "MoTaKetQua_en": en,
        "TonTai": v.person is not None if v.result != "04" else None,
        "ConSong": v.alive,
        "GiayToConHieuLuc": v.document_valid,
        "KetQuaKhop": {FIELD_TO_WIRE[k]: ("KHOP" if ok else "KHONG_KHOP") for k, ok in v.matches.items()},
    }
    if v.problems:
        out["LoiSoDinhDanh"] = [p.as_detail() for p in v.problems]
    return out


# -- forms of the OpenID Connect endpoints --------------------------------------------------------


class AuthorizeRequest(BaseModel):
    """The parameters of an authorization request (query or form). The router takes the form
    post of ``/oauth2/authorize`` and ``/oauth2/login`` as this model, so the parameter list
    stands once."""

    model_config = ConfigDict(extra="ignore")

    client_id: str | None = None
    redirect_uri: str | None = None
    response_type: str | None = None
    scope: str | None = None
    state: str | None = None
    nonce: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    acr_values: str | None = None
    prompt: str | None = None
    login_hint: str | None = None
    max_age: str | None = None
    response_mode: str | None = None

    @classmethod
    def from_params(cls, params: dict[str, str]) -> AuthorizeRequest:
        return cls(**{k: v for k, v in params.items() if k in cls.model_fields})

    def as_params(self) -> dict[str, str]:
        return {name: v for name in type(self).model_fields if (v := getattr(self, name)) is not None}

    @property
    def scopes(self) -> list[str]:
        return (self.scope or "").split()

    @property
    def prompts(self) -> set[str]:
        return set((self.prompt or "").split())


# The authorization request as a form post (no docstring: it would become the schema's description).
class AuthorizeForm(AuthorizeRequest):
    pass


class LoginForm(AuthorizeForm):
    SoDinhDanh: str | None = None
    action: str = "approve"
    q: str | None = None


class ClientAuthForm(BaseModel):
    model_config = ConfigDict(extra="ignore")

    client_id: str | None = None
    client_secret: str | None = None
    client_assertion_type: str | None = None
    client_assertion: str | None = None


class TokenGrant(BaseModel):
    """The grant parameters of a token request (the token form adds client authentication)."""

    model_config = ConfigDict(extra="ignore")

    grant_type: str | None = None
    code: str | None = None
    redirect_uri: str | None = None
    code_verifier: str | None = None
    refresh_token: str | None = None
    scope: str | None = None


# Client authentication, then the grant's parameters (this base order keeps that field order).
class TokenForm(TokenGrant, ClientAuthForm):
    pass


class TokenValueForm(ClientAuthForm):
    token: str | None = None
    token_type_hint: str | None = None


class UserinfoForm(BaseModel):
    model_config = ConfigDict(extra="ignore")
    access_token: str | None = None


class LogoutForm(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id_token_hint: str | None = None
    client_id: str | None = None
    post_logout_redirect_uri: str | None = None
    state: str | None = None


# -- switch parameters ---------------------------------------------------------------------


class SlowApprovalParams(BaseModel):
    """``SLOW_APPROVAL``: how long the approval in the VNeID app takes (real seconds)."""

    model_config = ConfigDict(extra="forbid")

    delay_seconds: WaitSeconds = 3.0


class PopulationTimeoutParams(BaseModel):
    """``POPULATION_TIMEOUT``: how long the population API waits before its 504 (real seconds)."""

    model_config = ConfigDict(extra="forbid")

    delay_seconds: WaitSeconds = 5.0


#: The parameters each switch takes (checked when it is set; the others take none). Only the
#: parameters given are stored; the code applying a switch supplies the same defaults.
SWITCH_PARAMS: dict[str, type[BaseModel]] = {
    "SLOW_APPROVAL": SlowApprovalParams,
    "POPULATION_TIMEOUT": PopulationTimeoutParams,
}
