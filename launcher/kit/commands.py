"""Every command of the test kit, for the ``vnsandbox`` parser (launcher/cli.py)."""

from __future__ import annotations

import argparse

from launcher.kit import control, deliveries, journal, scenario, tenant, trigger


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the kit's commands: wait, reset, clock, tenant, journal, deliveries, trigger, scenario."""
    for module in (control, tenant, journal, deliveries, trigger, scenario):
        module.register(sub)
