"""The sandbox's pytest plugin and typed clients, for a province's own test suite.

Installed with the ``vnsandbox`` package; pytest loads it through the ``pytest11`` entry point.
Its fixtures (``vnsandbox``, ``vnsandbox_tenant``, ``vneid``, ``dvcqg``, ``paygov``,
``webhook_receiver``, ``journal``, ``clock``, ``faults``) start nothing until a test asks for one.
The clients speak HTTP only (through the gateway), so they work against any running sandbox:
the embedded one the plugin starts, a shared one (``--vnsandbox-url``), or a container.
See docs/testing.md.
"""

from vnsandbox_pytest.control import Sandbox, Tenant
from vnsandbox_pytest.errors import ControlError, DVCQGError, PayGovError, PlatformError, VNeIDError
from vnsandbox_pytest.journal import Journal, JournalAssertionError
from vnsandbox_pytest.platforms import DVCQG, PayGov, VNeID
from vnsandbox_pytest.receiver import WebhookReceiver

__all__ = [
    "DVCQG",
    "ControlError",
    "DVCQGError",
    "Journal",
    "JournalAssertionError",
    "PayGov",
    "PayGovError",
    "PlatformError",
    "Sandbox",
    "Tenant",
    "VNeID",
    "VNeIDError",
    "WebhookReceiver",
]
