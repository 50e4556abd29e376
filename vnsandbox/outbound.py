"""The outbound-URL policy: which URLs the sandbox may call back (webhooks, payment notices).

Every URL a tenant registers (a payment partner's ``notice_url`` / ``return_url``, a dossier
unit's ``webhook_url``) is checked when it is registered, and every outbox delivery is
checked again when it connects, after DNS resolution:

- only ``http`` and ``https``, with a host;
- **always refused**, whatever the mode and ``SANDBOX_CALLBACK_ALLOW`` say: link-local
  addresses (``169.254.0.0/16``, ``fe80::/10``), cloud-metadata addresses and names
  (``169.254.169.254``, ``fd00:ec2::254``, ``100.100.100.200``, ``metadata.google.internal``,
  ...), unspecified addresses (``0.0.0.0/8``, ``::``), multicast and the reserved ``240.0.0.0/4``;
- **local** addresses: loopback (``127.0.0.0/8``, ``::1``, the name ``localhost``), private
  ranges (``10/8``, ``172.16/12``, ``192.168/16``, ``fc00::/7``), carrier-grade NAT
  (``100.64/10``) and every other non-global range. The embedded mode allows them on purpose
  (a developer's receiver runs on localhost, and so do the sandbox's own services); the shared
  mode (``SANDBOX_MODE=shared``) refuses them unless ``SANDBOX_CALLBACK_ALLOW`` names them
  (comma-separated CIDRs such as ``10.20.0.0/16`` and host names such as ``receiver`` or
  ``*.province.internal``). Refusing loopback and private ranges is what keeps the sandbox's
  own control endpoints out of reach in the shared mode.

IPv4 addresses written inside IPv6 (``::ffff:10.0.0.1``, NAT64 ``64:ff9b::/96``, 6to4
``2002::/16``) and the legacy IPv4 spellings (``2130706433``, ``0x7f.1``, ``127.1``) are judged
as the IPv4 address they stand for.

Registration checks the URL as written, without DNS (an unresolvable name is not an error at
registration). Delivery resolves the name with the policy's resolver, refuses the URL if *any*
of the addresses is refused, and then connects to one of the addresses it checked, never
resolving again: a name that answers a public address to the check and a private one to the
connection (DNS rebinding) cannot slip through. TLS still verifies the certificate against
the URL's host name. Redirects are never followed.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol
from urllib.parse import urlsplit

#: ``SANDBOX_MODE`` (as :data:`vnsandbox.settings.Mode`).
Mode = Literal["embedded", "shared"]


class HasCallbackPolicy(Protocol):
    """What the policy reads of a process's settings (:class:`vnsandbox.settings.ServiceSettings`)."""

    @property
    def mode(self) -> Mode: ...

    @property
    def callback_allow(self) -> str: ...


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
#: ``(host, port) -> addresses``; the default asks the system resolver (``getaddrinfo``).
Resolver = Callable[[str, int], Sequence[str]]

REFUSED_CODE = "OUTBOUND_URL_REFUSED"

#: Cloud instance-metadata endpoints (AWS, GCP, Azure, Alibaba, ECS task metadata, ...).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200", "168.63.129.16")
)
METADATA_NAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.azure.internal",
        "metadata.tencentyun.com",
    }
)
_LINK_LOCAL = tuple(ipaddress.ip_network(n) for n in ("169.254.0.0/16", "fe80::/10"))
_UNSPECIFIED = tuple(ipaddress.ip_network(n) for n in ("0.0.0.0/8", "::/128"))
_NOT_UNICAST = tuple(ipaddress.ip_network(n) for n in ("224.0.0.0/4", "240.0.0.0/4", "ff00::/8"))
_LOOPBACK = tuple(ipaddress.ip_network(n) for n in ("127.0.0.0/8", "::1/128"))
_PRIVATE = tuple(
    ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7", "100.64.0.0/10")
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_LEGACY_IPV4 = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}$")

Category = Literal["metadata", "link-local", "unspecified", "not-unicast", "loopback", "private", "reserved"]
#: Categories refused in every mode, allow-list or not.
ALWAYS_REFUSED: frozenset[str] = frozenset({"metadata", "link-local", "unspecified", "not-unicast"})
_WORDS: dict[str, tuple[str, str]] = {
    "metadata": ("a cloud metadata address", "là địa chỉ dịch vụ metadata của đám mây"),
    "link-local": ("a link-local address", "là địa chỉ link-local"),
    "unspecified": ("an unspecified address", "là địa chỉ không xác định"),
    "not-unicast": ("a multicast or reserved address", "là địa chỉ multicast hoặc dành riêng"),
    "loopback": ("a loopback address", "là địa chỉ loopback"),
    "private": ("a private address", "là địa chỉ mạng riêng"),
    "reserved": ("a non-public address", "không phải địa chỉ công khai"),
}


class OutboundRefused(Exception):
    """A URL or address the policy refuses; ``str()`` is ``OUTBOUND_URL_REFUSED: <reason>``."""

    def __init__(self, reason_en: str, reason_vi: str, rule: str) -> None:
        super().__init__(f"{REFUSED_CODE}: {reason_en}")
        self.reason_en = reason_en
        self.reason_vi = reason_vi
        #: ``scheme``, ``host``, or the address category (``private``, ``metadata``, ...).
        self.rule = rule

    @property
    def message_en(self) -> str:
        return f"Callback URL not allowed: {self.reason_en}"

    @property
    def message_vi(self) -> str:
        return f"URL gọi lại không được phép: {self.reason_vi}"

    def detail(self, field_name: str) -> dict[str, str]:
        """The ``{"field", "rule", "message"}`` item of a 422 reply."""
        return {"field": field_name, "rule": "outbound_url", "message": f"{self.reason_en} ({self.rule})"}


class UnresolvableHost(OSError):
    """A delivery's host name has no address (a connection error: retried like one)."""


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]).split("%", 1)[0] for info in infos))


def _embedded_ipv4(ip: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 address stands for (mapped, NAT64, 6to4), else ``ip`` itself."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if ip.sixtofour is not None:
            return ip.sixtofour
    return ip


def category(address: IPAddress) -> Category | None:
    """What kind of address this is for the policy; ``None`` for a public (global) address."""
    ip = _embedded_ipv4(address)
    if ip in METADATA_ADDRESSES or address in METADATA_ADDRESSES:
        return "metadata"
    checks: tuple[tuple[Category, tuple[IPNetwork, ...]], ...] = (
        ("unspecified", _UNSPECIFIED),
        ("link-local", _LINK_LOCAL),
        ("not-unicast", _NOT_UNICAST),
        ("loopback", _LOOPBACK),
        ("private", _PRIVATE),
    )
    for name, networks in checks:
        if any(ip in n for n in networks if n.version == ip.version):
            return name
    return None if ip.is_global else "reserved"


def parse_address(host: str) -> IPAddress | None:
    """An IP literal (``[::1]`` without brackets, or a legacy IPv4 spelling), else ``None``."""
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    if _LEGACY_IPV4.match(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _name_matches(host: str, pattern: str) -> bool:
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])
    return host == pattern


@dataclass(frozen=True)
class OutboundPolicy:
    """The policy of one process: its mode, its allow-list, and the resolver deliveries use."""

    mode: Mode = "embedded"
    allow_networks: tuple[IPNetwork, ...] = ()
    allow_hosts: tuple[str, ...] = ()
    resolver: Resolver = field(default=system_resolver, compare=False)

    @classmethod
    def parse(cls, mode: Mode, allow: str, resolver: Resolver = system_resolver) -> OutboundPolicy:
        """``allow`` is ``SANDBOX_CALLBACK_ALLOW``: comma-separated CIDRs / addresses / host names."""
        networks: list[IPNetwork] = []
        hosts: list[str] = []
        for raw in allow.split(","):
            entry = raw.strip().lower().rstrip(".")
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                if not re.fullmatch(r"(\*\.)?[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?", entry):
                    raise ValueError(
                        f"SANDBOX_CALLBACK_ALLOW: {raw.strip()!r} is neither a CIDR nor a host name"
                    ) from None
                hosts.append(entry)
        return cls(mode, tuple(networks), tuple(hosts), resolver)

    # --- the rules ---------------------------------------------------------------------

    def _host_allowed(self, host: str) -> bool:
        return any(_name_matches(host, p) for p in self.allow_hosts)

    def check_address(self, address: IPAddress, host: str = "", shown: str = "") -> None:
        """Refuse ``address`` (reached for the URL host ``host``) if the policy says so;
        the reason names ``shown`` (default: the address)."""
        kind = category(address)
        if kind is None:
            return
        en, vi = _WORDS[kind]
        if kind not in ALWAYS_REFUSED:
            if self.mode == "embedded":
                return
            if any(address in n for n in self.allow_networks if n.version == address.version):
                return
            if host and self._host_allowed(host):
                return
            en += " (refused in the shared mode unless SANDBOX_CALLBACK_ALLOW names it)"
            vi += " (bị từ chối ở chế độ shared nếu SANDBOX_CALLBACK_ALLOW không cho phép)"
        shown = shown or str(address)
        raise OutboundRefused(f"{shown} is {en}", f"{shown} {vi}", kind)

    def check_host(self, host: str) -> None:
        """Judge a host as written (no DNS): IP literals, ``localhost``, metadata names."""
        host = host.lower().rstrip(".")
        if not host:
            raise OutboundRefused("the URL names no host", "URL không có tên máy chủ", "host")
        if host in METADATA_NAMES:
            en, vi = _WORDS["metadata"]
            raise OutboundRefused(f"{host} is {en}", f"{host} {vi}", "metadata")
        address = parse_address(host)
        if address is not None:
            self.check_address(address, host)
        elif host == "localhost" or host.endswith(".localhost"):
            self.check_address(ipaddress.ip_address("127.0.0.1"), host, shown=host)

    def check_url(self, url: str) -> None:
        """The registration check: scheme and host as written; raises :class:`OutboundRefused`."""
        try:
            parts = urlsplit(url)
            host = parts.hostname or ""
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError:
            raise OutboundRefused("the URL cannot be parsed", "URL không đúng định dạng", "url") from None
        if parts.scheme.lower() not in ("http", "https"):
            raise OutboundRefused(
                "only http and https URLs are allowed", "URL phải bắt đầu bằng http:// hoặc https://", "scheme"
            )
        self.check_host(host)

    def resolve(self, host: str, port: int) -> list[IPAddress]:
        """Every address of ``host``, each checked; refuses the host if any one is refused."""
        self.check_host(host)
        literal = parse_address(host.lower())
        if literal is not None:
            return [literal]
        try:
            found = [ipaddress.ip_address(a) for a in self.resolver(host, port)]
        except socket.gaierror as exc:
            raise UnresolvableHost(f"cannot resolve {host}: {exc}") from exc
        if not found:
            raise UnresolvableHost(f"{host} has no address")
        for address in found:
            self.check_address(address, host.lower().rstrip("."))
        return found


def policy_of(settings: HasCallbackPolicy, resolver: Resolver = system_resolver) -> OutboundPolicy:
    """The policy a service's settings give (``SANDBOX_MODE``, ``SANDBOX_CALLBACK_ALLOW``)."""
    return OutboundPolicy.parse(settings.mode, settings.callback_allow, resolver)
