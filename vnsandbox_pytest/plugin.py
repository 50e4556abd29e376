"""pytest fixtures of the sandbox (loaded through the ``pytest11`` entry point ``vnsandbox``).

Nothing starts until a test asks for a fixture. ``vnsandbox`` is the sandbox for the session:
the one at ``--vnsandbox-url`` / ``$VNSB_URL`` when given, else ``vnsandbox up`` started on free
loopback ports (SQLite in a temporary directory) and stopped at the end. Every other fixture
works in a throwaway tenant of the test's own (``vnsandbox_tenant``, deleted afterwards), so
tests never see each other's data and need no reset. Disable the plugin with ``-p no:vnsandbox``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from vnsandbox_pytest.control import Clock, Faults, Sandbox, Tenant
from vnsandbox_pytest.journal import Journal
from vnsandbox_pytest.platforms import DVCQG, PayGov, VNeID
from vnsandbox_pytest.receiver import WebhookReceiver


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("vnsandbox", "VN e-government sandbox")
    group.addoption(
        "--vnsandbox-url",
        default=os.environ.get("VNSB_URL"),
        help="gateway URL of a running sandbox (default: $VNSB_URL; without it the plugin starts one)",
    )
    group.addoption(
        "--vnsandbox-admin-key",
        default=os.environ.get("VNSB_ADMIN_KEY"),
        help="administrator key of a shared sandbox that does not let anyone create tenants ($VNSB_ADMIN_KEY)",
    )
    group.addoption(
        "--vnsandbox-ready-timeout",
        type=float,
        default=float(os.environ.get("VNSB_READY_TIMEOUT", "180")),
        help="seconds to wait for the sandbox to be ready (a bound for a failed start only; default 180)",
    )


@pytest.fixture(scope="session")
def vnsandbox(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """The sandbox of the session: the given URL's, or an embedded one started for the session."""
    from vnsandbox_pytest.embedded import EmbeddedSandbox

    url = pytestconfig.getoption("vnsandbox_url")
    admin_key = pytestconfig.getoption("vnsandbox_admin_key")
    timeout_s = float(pytestconfig.getoption("vnsandbox_ready_timeout"))
    embedded = None
    if not url:
        data_dir = Path(tmp_path_factory.mktemp("vnsandbox-data"))
        embedded = EmbeddedSandbox(data_dir, start_timeout_s=timeout_s).start()
        url = embedded.url
    sandbox = Sandbox(url, admin_key=admin_key)
    try:
        sandbox.wait_ready(timeout_s)
        yield sandbox
    finally:
        sandbox.close()
        if embedded is not None:
            embedded.stop()


@pytest.fixture
def vnsandbox_tenant(vnsandbox: Sandbox) -> Iterator[Tenant]:
    """A throwaway tenant with its first consumer's credentials; deleted (data wiped) after the test."""
    tenant = vnsandbox.create_tenant()
    try:
        yield tenant
    finally:
        tenant.delete()


@pytest.fixture
def vneid(vnsandbox_tenant: Tenant) -> VNeID:
    """VNeID as a relying party of the test's tenant: ``vneid.login(cccd)`` does the OIDC dance."""
    return VNeID(vnsandbox_tenant.http)


@pytest.fixture
def dvcqg(vnsandbox_tenant: Tenant) -> DVCQG:
    """DVCQG dossier sync as the unit ``000.00.01.H22`` (registered in the tenant when missing)."""
    client = DVCQG(vnsandbox_tenant.http)
    client.ensure_unit()
    return client


@pytest.fixture
def paygov(vnsandbox_tenant: Tenant) -> PayGov:
    """PayGov as a partner registered in the test's tenant with a random secret (no notice URL yet:
    ``paygov.register(notice_url=webhook_receiver.url)`` adds one)."""
    client = PayGov(vnsandbox_tenant.http)
    client.register()
    return client


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    """A loopback endpoint for webhooks and notices; add the secrets it should verify with to ``secrets``."""
    receiver = WebhookReceiver()
    try:
        yield receiver
    finally:
        receiver.close()


@pytest.fixture
def journal(vnsandbox_tenant: Tenant) -> Journal:
    """The tenant's gateway journal: ``journal.assert_called(...)`` fails listing the near misses."""
    return Journal(vnsandbox_tenant.http)


@pytest.fixture
def clock(vnsandbox_tenant: Tenant) -> Clock:
    """The tenant's test clock: ``clock.advance("1h")``."""
    return vnsandbox_tenant.clock


@pytest.fixture
def faults(vnsandbox_tenant: Tenant) -> Faults:
    """The tenant's fault rules at the gateway: ``faults.add("error", api="dvcqg", next_n=1, status=503)``."""
    return vnsandbox_tenant.faults
