"""The outbound-URL policy (vnsandbox/outbound.py): which callback URLs each mode allows, and why not."""

from __future__ import annotations

import pytest

from vnsandbox.outbound import OutboundPolicy, OutboundRefused

EMBEDDED = OutboundPolicy.parse("embedded", "")
SHARED = OutboundPolicy.parse("shared", "")
SHARED_ALLOWING = OutboundPolicy.parse("shared", "10.20.0.0/16, receiver, *.province.internal, 127.0.0.1/32")

#: (url, rule in embedded mode, rule in shared mode); None means allowed.
TABLE = [
    ("https://mcdt.example.gov.vn/paygov/notice", None, None),
    ("http://203.0.113.0.nip.example/", None, None),
    ("http://8.8.8.8/hook", None, None),
    ("ftp://example.org/", "scheme", "scheme"),
    ("file:///etc/passwd", "scheme", "scheme"),
    ("gopher://127.0.0.1:6379/", "scheme", "scheme"),
    ("http:///no-host", "host", "host"),
    ("http://169.254.169.254/latest/meta-data/", "metadata", "metadata"),
    ("http://[fd00:ec2::254]/", "metadata", "metadata"),
    ("http://100.100.100.200/", "metadata", "metadata"),
    ("http://metadata.google.internal/computeMetadata/v1/", "metadata", "metadata"),
    ("http://METADATA.google.internal./", "metadata", "metadata"),
    ("http://metadata/", "metadata", "metadata"),
    ("http://[::ffff:169.254.169.254]/", "metadata", "metadata"),
    ("http://169.254.10.1/", "link-local", "link-local"),
    ("http://[fe80::1]/", "link-local", "link-local"),
    ("http://0.0.0.0:8002/", "unspecified", "unspecified"),
    ("http://[::]/", "unspecified", "unspecified"),
    ("http://0/", "unspecified", "unspecified"),
    ("http://224.0.0.1/", "not-unicast", "not-unicast"),
    ("http://255.255.255.255/", "not-unicast", "not-unicast"),
    ("http://127.0.0.1:8002/_sandbox/units", None, "loopback"),
    ("http://localhost:8003/", None, "loopback"),
    ("http://api.localhost/", None, "loopback"),
    ("http://[::1]:8000/", None, "loopback"),
    ("http://2130706433/", None, "loopback"),
    ("http://0x7f.1/", None, "loopback"),
    ("http://127.1/", None, "loopback"),
    ("http://[::ffff:127.0.0.1]/", None, "loopback"),
    ("http://10.0.0.5/", None, "private"),
    ("http://172.16.3.4/", None, "private"),
    ("http://172.31.255.255/", None, "private"),
    ("http://192.168.1.10/", None, "private"),
    ("http://[fd12:3456::1]/", None, "private"),
    ("http://100.64.0.1/", None, "private"),
    ("http://[64:ff9b::a00:5]/", None, "private"),
    ("http://192.0.2.10/", None, "reserved"),
    ("http://172.32.0.1/", None, None),
]


def _verdict(policy: OutboundPolicy, url: str) -> str | None:
    try:
        policy.check_url(url)
    except OutboundRefused as exc:
        return exc.rule
    return None


@pytest.mark.parametrize(("url", "embedded", "shared"), TABLE, ids=[t[0] for t in TABLE])
def test_policy_table(url: str, embedded: str | None, shared: str | None) -> None:
    assert (_verdict(EMBEDDED, url), _verdict(SHARED, url)) == (embedded, shared)


def test_refusal_names_the_address_and_why() -> None:
    with pytest.raises(OutboundRefused) as refused:
        SHARED.check_url("http://10.0.0.5/hook")
    assert str(refused.value).startswith("OUTBOUND_URL_REFUSED: 10.0.0.5 is a private address")
    assert "SANDBOX_CALLBACK_ALLOW" in refused.value.reason_en
    assert refused.value.reason_vi.startswith("10.0.0.5 là địa chỉ mạng riêng")


@pytest.mark.parametrize(
    "url",
    ["http://10.20.3.4/hook", "http://receiver:8080/hook", "http://a.province.internal/", "http://127.0.0.1:9/"],
)
def test_shared_mode_allows_what_sandbox_callback_allow_names(url: str) -> None:
    assert _verdict(SHARED_ALLOWING, url) is None


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("http://10.21.0.1/", "private"),
        ("http://127.0.0.2/", "loopback"),
        ("http://province.internal/", None),  # a public name is not refused: it is checked after DNS
        ("http://169.254.169.254/", "metadata"),
    ],
)
def test_the_allow_list_covers_only_what_it_names(url: str, rule: str | None) -> None:
    assert _verdict(SHARED_ALLOWING, url) == rule


def test_the_allow_list_never_opens_link_local_or_metadata() -> None:
    everything = OutboundPolicy.parse("shared", "0.0.0.0/0, ::/0, metadata.google.internal")
    for url in (
        "http://169.254.169.254/",
        "http://169.254.1.1/",
        "http://metadata.google.internal/",
        "http://0.0.0.0/",
    ):
        assert _verdict(everything, url) is not None, url
    assert _verdict(everything, "http://10.0.0.5/") is None


def test_names_are_judged_after_resolution_with_every_address_checked() -> None:
    answers = {"rebind.test": ["93.184.216.34", "10.0.0.5"], "public.test": ["93.184.216.34"]}
    policy = OutboundPolicy.parse("shared", "", resolver=lambda host, _port: answers[host])
    assert [str(a) for a in policy.resolve("public.test", 443)] == ["93.184.216.34"]
    with pytest.raises(OutboundRefused, match=r"10\.0\.0\.5 is a private address"):
        policy.resolve("rebind.test", 443)


def test_a_host_name_allowed_by_name_may_resolve_to_a_private_address_but_not_to_metadata() -> None:
    answers = {"receiver": ["172.18.0.5"], "evil.receiver": ["169.254.169.254"]}
    policy = OutboundPolicy.parse("shared", "receiver, *.receiver", resolver=lambda host, _port: answers[host])
    assert [str(a) for a in policy.resolve("receiver", 80)] == ["172.18.0.5"]
    with pytest.raises(OutboundRefused, match="metadata"):
        policy.resolve("evil.receiver", 80)


@pytest.mark.parametrize("entry", ["10.0.0.0/33", "not a host", "http://x/"])
def test_a_malformed_allow_entry_is_refused_at_start(entry: str) -> None:
    with pytest.raises(ValueError, match="SANDBOX_CALLBACK_ALLOW"):
        OutboundPolicy.parse("shared", entry)
