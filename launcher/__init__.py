"""The top floor: the ``vnsandbox`` command (``up``, ``check-config``, ``seed``) and the process table.

It starts and configures the gateway and the services, so it is the one package that
imports all of them; nothing below it imports it (see docs/architecture.md).
"""
