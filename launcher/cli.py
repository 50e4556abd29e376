"""``vnsandbox``: start the sandbox, check its configuration.

vnsandbox up            gateway + identity + dossier + payment as uvicorn processes
vnsandbox check-config  validate every process's settings and print them
vnsandbox seed          generate the identity service's synthetic population
vnsandbox wait, tenant, reset, clock, journal, deliveries, trigger, scenario
                        the test kit: drive a running sandbox over HTTP (launcher/kit/, docs/testing.md)
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from launcher import prefork
from launcher.shared import DEFAULT_PREFIX, SharedSetupError, derived_env, ensure_databases
from launcher.topology import CONSOLE, DESK, GATEWAY, GATEWAY_PREFIX, SERVICES, STARTED, Process, uvicorn_args
from vnsandbox import __version__
from vnsandbox.settings import ServiceSettings

STARTUP_TIMEOUT_S = 60.0
#: How often each process's readiness is asked while it starts (a refused connection costs microseconds).
READY_POLL_S = 0.02
#: Bind addresses meaning "every interface" (the container image binds 0.0.0.0).
WILDCARD_HOSTS = ("0.0.0.0", "::", "")  # noqa: S104 (recognised, not bound here)


def _settings_classes() -> dict[str, type[ServiceSettings]]:
    from console.settings import ConsoleSettings
    from gateway.settings import GatewaySettings
    from services.dossier.settings import DossierSettings
    from services.identity.settings import IdentitySettings
    from services.payment.settings import PaymentSettings

    return {
        "gateway": GatewaySettings,
        "identity": IdentitySettings,
        "dossier": DossierSettings,
        "payment": PaymentSettings,
        "console": ConsoleSettings,
    }


def port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _get_json(url: str) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 (loopback)
            data: dict[str, Any] = json.loads(resp.read())
            return data
    except (OSError, ValueError, urllib.error.URLError):
        return None


class Supervisor:
    def __init__(self, host: str, ports: dict[str, int], data_dir: Path) -> None:
        self.host = host
        #: Where the processes reach each other: loopback when binding every interface.
        self.link_host = "127.0.0.1" if host in WILDCARD_HOSTS else host
        self.ports = ports
        self.data_dir = data_dir
        self.children: dict[str, subprocess.Popen[bytes] | prefork.ForkedProcess] = {}
        self.stopping = False

    def url(self, name: str) -> str:
        return f"http://{self.link_host}:{self.ports[name]}"

    def public_url(self) -> str:
        """The gateway's address for people: the configured public URL, else the local one."""
        configured = os.environ.get("GATEWAY_PUBLIC_BASE_URL") or os.environ.get("SANDBOX_PUBLIC_URL")
        if configured:
            return configured.rstrip("/")
        host = "localhost" if self.host in WILDCARD_HOSTS else self.host
        return f"http://{host}:{self.ports['gateway']}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["SANDBOX_DATA_DIR"] = str(self.data_dir)
        for proc in STARTED:
            env[f"{proc.env_prefix}PORT"] = str(self.ports[proc.name])
            env[f"{proc.env_prefix}HOST"] = self.host
        for proc in SERVICES:
            env[f"GATEWAY_{proc.name.upper()}_URL"] = self.url(proc.name)
        # Service-to-service links: payment informs dossier; dossier checks owners against identity.
        env["PAYMENT_DOSSIER_URL"] = self.url("dossier")
        env["DOSSIER_IDENTITY_URL"] = self.url("identity")
        env["DOSSIER_PAYMENT_URL"] = self.url("payment")
        # The console calls the gateway; the gateway relays browsers' /console/... to it.
        env["CONSOLE_GATEWAY_URL"] = self.url("gateway")
        env["GATEWAY_CONSOLE_URL"] = self.url("console")
        # The officer's desk is a province's system: it reaches the platforms through the gateway.
        env["DESK_GATEWAY_URL"] = self.url("gateway")
        env["DESK_DATA_DIR"] = str(self.data_dir)
        # The presenter's province steps can be done on the desk: the console hands the tenant over.
        env.setdefault("CONSOLE_DESK_URL", self.url("desk"))
        return env

    def start(self) -> None:
        """Start every process: forks of this one after it imported the shared modules once
        (launcher/prefork.py), or ``python -m uvicorn`` each where forking is not available."""
        env = self.env()
        forking = prefork.fork_supported() and not os.environ.get("SANDBOX_NO_PREFORK")
        if forking:
            prefork.preload()
        for proc in (*SERVICES, GATEWAY, CONSOLE, DESK):
            port = self.ports[proc.name]
            if forking:
                self.children[proc.name] = prefork.fork_server(proc, self.host, port, env)
                continue
            self.children[proc.name] = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", *uvicorn_args(proc, self.host, port)],
                env=env,
                start_new_session=True,
                preexec_fn=prefork.set_parent_death_signal,
            )

    def wait_healthy(self) -> bool:
        """Wait for every process at once (one thread each, polling every 20 ms): the sandbox is
        ready as soon as its slowest process is, and a process that exits is reported at once."""
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        failed = threading.Event()

        def wait_one(proc: Process) -> bool:
            child = self.children[proc.name]
            while time.monotonic() < deadline and not failed.is_set() and not self.stopping:
                if child.poll() is not None:
                    print(f"vnsandbox: {proc.name} exited during start-up (code {child.returncode})", file=sys.stderr)
                    failed.set()
                    return False
                if _get_json(self.url(proc.name) + proc.ready_path) is not None:
                    return True
                time.sleep(READY_POLL_S)
            return False

        with ThreadPoolExecutor(len(STARTED)) as pool:
            ready = dict(zip([p.name for p in STARTED], pool.map(wait_one, STARTED), strict=True))
        pending = sorted(name for name, ok in ready.items() if not ok)
        if pending and not failed.is_set() and not self.stopping:
            print(f"vnsandbox: not ready after {STARTUP_TIMEOUT_S:.0f} s: {', '.join(pending)}", file=sys.stderr)
        return not pending or (self.stopping and not failed.is_set())

    def banner(self) -> str:
        gw = self.public_url()
        if os.environ.get("SANDBOX_MODE", "embedded") == "shared":
            where = "shared mode, PostgreSQL" if os.environ.get("GATEWAY_DATABASE_URL") else "shared mode"
        else:
            where = f"embedded mode, data in {self.data_dir}"
        lines = [
            f"vnsandbox {__version__} is up ({where})",
            "",
            f"  gateway      {gw}            docs index: {gw}/docs",
        ]
        for proc in SERVICES:
            prefix = GATEWAY_PREFIX[proc.name]
            lines.append(f"  {proc.name:<12} {gw}{prefix:<12} direct: {self.url(proc.name)}  docs: {gw}{prefix}/docs")
        lines += ["", f"  console      {gw}/            (a browser opening the gateway gets the training console)"]
        lines += [f"  officer's desk {self.url('desk')}  (bàn làm việc một cửa: the reference province, docs/desk.md)"]
        lines += ["", f"  control plane: {gw}/_sandbox (health, journal, reset)"]
        lines += self.dev_credentials()
        lines += ["", "Press Ctrl-C to stop."]
        return "\n".join(lines)

    def dev_credentials(self) -> list[str]:
        """The built-in development accounts of the embedded mode (none exist in shared mode)."""
        from services.dossier import settings as dossier_settings
        from services.payment.settings import PaymentSettings

        gw = self.public_url()
        lines: list[str] = []
        client = _get_json(self.url("identity") + "/_sandbox/clients/default")
        if client and "client_id" in client:
            lines.append(f"  VNeID client   client_id={client['client_id']}  client_secret={client['client_secret']}")
            lines.append(
                f"                 issuer {gw}/vneid/v1  redirect URIs: {', '.join(client['redirect_uris'][:2])}, ..."
            )
        if dossier_settings.DossierSettings().dev_unit_enabled:
            ds = dossier_settings
            lines.append(
                f"  DVCQG unit     MaDonVi={ds.DEV_UNIT_CODE}  username={ds.DEV_UNIT_USERNAME}  "
                f"password={ds.DEV_UNIT_PASSWORD}  api key={ds.DEV_UNIT_API_KEY}"
            )
        payment = PaymentSettings()
        if payment.mode == "embedded":
            lines.append(f"  PayGov partner MaDoiTac={payment.dev_partner_code}  secret={payment.dev_partner_secret}")
        gateway = _get_json(gw + "/_sandbox/version") or {}
        if gateway.get("mode") == "embedded":
            lines.append("  gateway        open in embedded mode: calls without credentials use tenant 'default'")
        return ["", "Development accounts (documented in docs/*.md):", *lines] if lines else []

    def stop(self) -> None:
        self.stopping = True
        for child in self.children.values():
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + 10
        for child in self.children.values():
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()

    def watch(self) -> int:
        reported: set[str] = set()
        while not self.stopping:
            for name, child in self.children.items():
                if child.poll() is not None and name not in reported:
                    reported.add(name)
                    print(
                        f"vnsandbox: {name} exited (code {child.returncode}); the gateway answers 502 for it. "
                        "The other processes keep running.",
                        file=sys.stderr,
                    )
            time.sleep(0.3)
        return 0


def cmd_up(args: argparse.Namespace) -> int:
    ports = {proc.name: getattr(args, f"{proc.name}_port") for proc in STARTED}
    if len(set(ports.values())) != len(ports):
        print("vnsandbox: every process needs its own port", file=sys.stderr)
        return 2
    taken = [(n, p) for n, p in ports.items() if not port_free(args.host, p)]
    if taken:
        for name, port in taken:
            print(
                f"vnsandbox: port {port} on {args.host} ({name}) is already in use; stop what uses it "
                f"or choose another with --{name}-port",
                file=sys.stderr,
            )
        return 2
    try:
        # Settings this process reads too (the banner's development accounts), so into our environment.
        os.environ.update(derived_env(os.environ))
        if server := os.environ.get("SANDBOX_POSTGRES_URL", "").strip():
            for db in ensure_databases(server, os.environ.get("SANDBOX_POSTGRES_PREFIX") or DEFAULT_PREFIX):
                print(f"vnsandbox: created database {db}", file=sys.stderr)
    except SharedSetupError as exc:
        print(f"vnsandbox: {exc}", file=sys.stderr)
        return 2
    sup = Supervisor(args.host, ports, Path(args.data_dir))

    def on_signal(signum: int, _frame: object) -> None:
        sup.stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    sup.start()
    try:
        if not sup.wait_healthy():
            return 1
        if sup.stopping:
            return 0
        print(sup.banner(), flush=True)
        return sup.watch()
    finally:
        sup.stop()
        print("vnsandbox: stopped", file=sys.stderr, flush=True)


def _mask(key: str, value: Any) -> Any:
    if any(w in key for w in ("secret", "password")):
        return "***" if value else ""
    if key == "database_url" and isinstance(value, str) and "@" in value:
        scheme, rest = value.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return value


def cmd_seed(args: argparse.Namespace) -> int:
    """Generate the identity service's base population (seen by every tenant)."""
    from services.identity.app import seed_base_population
    from services.identity.settings import IdentitySettings

    if args.people < 0:
        print("vnsandbox seed: --people must be 0 or more", file=sys.stderr)
        return 2
    overrides: dict[str, Any] = {"database_url": args.database_url} if args.database_url else {}
    try:
        settings = IdentitySettings(**overrides)
    except ValidationError as exc:
        print(f"vnsandbox seed: invalid identity settings: {exc}", file=sys.stderr)
        return 2
    started = time.monotonic()
    step = max(100_000, args.people // 10)
    shown = {"next": step}

    def progress(done: int) -> None:
        if done >= shown["next"]:
            shown["next"] += step
            print(f"  {done:,} people ({done / (time.monotonic() - started):,.0f}/s)", file=sys.stderr, flush=True)

    count = seed_base_population(settings, args.people, args.seed, progress)
    elapsed = time.monotonic() - started
    print(
        f"vnsandbox seed: {count:,} people from seed {args.seed} in {elapsed:.1f} s "
        f"({count / max(elapsed, 1e-9):,.0f}/s) into {_mask('database_url', settings.resolved_database_url())}"
    )
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    problems = 0
    report: dict[str, Any] = {}
    for name, cls in _settings_classes().items():
        try:
            s = cls()
        except ValidationError as exc:
            problems += 1
            for err in exc.errors():
                field = ".".join(str(p) for p in err["loc"]) or "(settings)"
                print(f"{name}: {field}: {err['msg']}", file=sys.stderr)
            continue
        values = {k: _mask(k, v) for k, v in s.model_dump(mode="json").items()}
        if name != "gateway":
            values["database_url"] = _mask("database_url", s.resolved_database_url())
        report[name] = values
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        for name, values in report.items():
            print(f"[{name}]")
            for k, v in values.items():
                print(f"  {k} = {v}")
    if problems:
        print(f"check-config: {problems} process(es) misconfigured", file=sys.stderr)
        return 2
    print("check-config: ok", file=sys.stderr)
    return 0


def cmd_openapi(args: argparse.Namespace) -> int:
    """Write every process's OpenAPI document into ``--out`` (launcher/openapi_export.py)."""
    from launcher.openapi_export import export

    try:
        written = export(Path(args.out))
    except (OSError, ValidationError) as exc:
        print(f"vnsandbox openapi: cannot export: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(path)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vnsandbox", description="VN e-government sandbox")
    parser.add_argument("--version", action="version", version=f"vnsandbox {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the gateway and the three services")
    up.add_argument("--host", default=os.environ.get("SANDBOX_HOST", "127.0.0.1"))
    for proc in STARTED:
        up.add_argument(
            f"--{proc.name}-port",
            type=int,
            default=os.environ.get(f"{proc.env_prefix}PORT", str(proc.default_port)),
            help=f"default {proc.default_port}, or ${proc.env_prefix}PORT",
        )
    up.add_argument("--data-dir", default=os.environ.get("SANDBOX_DATA_DIR", "var/data"))
    up.set_defaults(func=cmd_up)
    check = sub.add_parser("check-config", help="validate and print every process's settings")
    check.add_argument("--json", action="store_true", help="print as JSON")
    check.set_defaults(func=cmd_check_config)
    seed = sub.add_parser("seed", help="generate the identity service's synthetic population (every tenant sees it)")
    seed.add_argument("--people", type=int, required=True, help="how many people (1,000,000 is practical)")
    seed.add_argument("--seed", type=int, default=20260101, help="the same seed gives the same people")
    seed.add_argument(
        "--database-url",
        default=None,
        help="identity database (default: IDENTITY_DATABASE_URL or the embedded SQLite file)",
    )
    seed.set_defaults(func=cmd_seed)
    from launcher.kit.commands import register as register_kit

    register_kit(sub)
    openapi = sub.add_parser(
        "openapi",
        help="write the OpenAPI documents of the gateway and every service as files",
        description="example: vnsandbox openapi --out openapi/  (then generate a Java/.NET/TypeScript client)",
    )
    openapi.add_argument("--out", required=True, help="directory for gateway.json, identity.json, dossier.json, …")
    openapi.set_defaults(func=cmd_openapi)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    rc: int = args.func(args)
    return rc


if __name__ == "__main__":
    sys.exit(main())
