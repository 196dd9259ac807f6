"""The `missedmail` command (contract §1).

Start-up problems end the process with one line naming the cause (see `startup.py`).
Commands import Django models and services inside their functions: Django can only import
them after `setup_django()` has validated the settings and configured the apps.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Sequence

from missedmail import __version__
from missedmail.conf import ConfigError, Settings, redact_url
from missedmail.logs import configure_logging
from missedmail.startup import (
    EXIT_FAILURE,
    EXIT_USAGE,
    build_transport,
    check_amqp_url,
    check_database,
    fail,
    setup_django,
)

logger = logging.getLogger("missedmail.cli")


def wait_for_signal() -> None:
    """Block until SIGTERM or SIGINT (Ctrl-C)."""
    stop = threading.Event()

    def handler(signum: int, _frame: object) -> None:
        logger.info("action=signal_received signal=%s", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    stop.wait()


def banner(settings: Settings, url: str, *, worker: bool, web: bool) -> str:
    if settings.email.smtp_enabled:
        where = f"SMTP {settings.email.host}:{settings.email.port}"
    else:
        where = f"{settings.outbox_dir} (one .eml file per email)"
    queue = (
        f"consuming missedmessage_emails at {redact_url(settings.amqp_url)}"
        if settings.amqp_url
        else "not configured (events come through the HTTP API and `missedmail enqueue`)"
    )
    lines = ["missedmail is running"]
    if web:
        lines += [
            f"  URL:         {url}",
            f"  API token:   {settings.api_token}",
            f"  Operator UI: {url}/ops/   health: {url}/readyz   metrics: {url}/metrics",
        ]
    if worker:
        lines += [f"  Emails go to {where}", f"  Queue:       {queue}"]
        if settings.staging:
            lines.append("  STAGING: notifications are scheduled and recorded, never sent")
    lines.append("Press Ctrl-C to stop.")
    return "\n".join(lines)


# -- commands ---------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace, *, web: bool, worker: bool) -> int:
    settings = setup_django()
    check_database(settings, migrate_embedded=True)
    from missedmail.clock import SystemClock
    from missedmail.httpserver import HttpServer
    from missedmail.worker.service import WorkerService

    server = None
    service = None
    if web:
        try:
            server = HttpServer(settings.bind_host, settings.bind_port)
        except OSError as error:
            address = f"{settings.bind_host}:{settings.bind_port}"
            fail(f"MISSEDMAIL_BIND: cannot listen on {address}: {error.strerror}")
    if worker:
        try:
            check_amqp_url(settings)
            service = WorkerService(settings, SystemClock(), build_transport(settings))
        except ConfigError as error:
            fail(str(error), EXIT_USAGE)
        service.start()
    if server is not None:
        server.start()
    url = settings.public_url if server is None else _local_url(settings, server.port)
    print(banner(settings, url, worker=worker, web=web), flush=True)
    wait_for_signal()
    print("missedmail: stopping…", file=sys.stderr, flush=True)
    if server is not None:
        server.stop()
    if service is not None:
        service.stop()
    return 0


def _local_url(settings: Settings, port: int) -> str:
    host = settings.bind_host
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 -- comparing, not binding
        host = "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}"


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = setup_django()
    from django.core.management import call_command
    from django.db import DatabaseError

    try:
        call_command("migrate", verbosity=0 if args.quiet else 1, interactive=False)
    except DatabaseError as error:
        where = "DATABASE_URL" if not settings.database_is_embedded else str(settings.data_dir)
        fail(f"database unreachable ({where}): {str(error).strip().splitlines()[0]}")
    return 0


def iter_event_lines(args: Sequence[str], stdin: Iterable[str]) -> Iterable[tuple[str, str]]:
    """(label, text) for each event: arguments, else the lines of stdin (blank lines skipped)."""
    if args:
        for number, text in enumerate(args, start=1):
            yield f"argument {number}", text
        return
    for number, line in enumerate(stdin, start=1):
        if line.strip():
            yield f"line {number}", line.strip()


def cmd_enqueue(args: argparse.Namespace) -> int:
    settings = setup_django()
    check_database(settings, migrate_embedded=True)
    from missedmail.clock import SystemClock
    from missedmail.scheduling.ingest import raw_event_from_body, schedule_events
    from missedmail.scheduling.models import EventSource
    from missedmail.scheduling.wakeups import announce_due

    items = list(iter_event_lines(args.events, sys.stdin if not args.events else []))
    if not items:
        fail("no events given: pass JSON objects as arguments or one per line on stdin", EXIT_USAGE)
    raws = [raw_event_from_body(text.encode("utf-8")) for _label, text in items]
    result = schedule_events(raws, source=EventSource.CLI, now=SystemClock().now())
    announce_due(result.earliest_new_due)
    for (label, _text), outcome in zip(items, result.outcomes, strict=True):
        if outcome.status == "rejected":
            print(f"{label}: rejected: {outcome.reason}", file=sys.stderr)
        elif outcome.status == "skipped":
            print(f"{label}: skipped: {outcome.reason}", file=sys.stderr)
    counts = {s: result.count(s) for s in ("scheduled", "duplicate", "skipped", "rejected")}
    print(", ".join(f"{count} {status}" for status, count in counts.items()))
    return EXIT_FAILURE if counts["rejected"] else 0


def cmd_status(args: argparse.Namespace) -> int:
    settings = setup_django()
    check_database(settings, migrate_embedded=False)
    from missedmail.clock import SystemClock
    from missedmail.ops.figures import status_figures, status_lines

    figures = status_figures(SystemClock().now())
    if args.json:
        print(json.dumps(figures.to_json(), sort_keys=True))
        return 0
    print("\n".join(status_lines(figures)))
    return 0


def cmd_failed(args: argparse.Namespace) -> int:
    settings = setup_django()
    check_database(settings, migrate_embedded=False)
    from missedmail.outbox.operations import failed_command

    return failed_command(as_json=args.json, out=sys.stdout, limit=args.limit)


def cmd_requeue(args: argparse.Namespace) -> int:
    settings = setup_django()
    check_database(settings, migrate_embedded=False)
    from missedmail.clock import SystemClock
    from missedmail.outbox.operations import requeue_command

    return requeue_command(
        args.ids,
        all_failed=args.all_failed,
        now=SystemClock().now(),
        out=sys.stdout,
        err=sys.stderr,
    )


def cmd_demo(args: argparse.Namespace) -> int:
    from missedmail.demo import run_demo

    return run_demo(keep=args.keep)


def cmd_preview(args: argparse.Namespace) -> int:
    setup_django()
    from missedmail.composing.preview import preview_command

    return preview_command(args.django_args)


def cmd_createadmin(args: argparse.Namespace) -> int:
    setup_django()
    from django.core.management import call_command

    call_command("createsuperuser", *args.django_args)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="missedmail",
        description="Missed-message emails for chat servers: batched, punctual, durable.",
        epilog="Configuration comes from environment variables; see README.md.",
    )
    parser.add_argument("--version", action="version", version=f"missedmail {__version__}")
    parser.add_argument(
        "--log-level",
        default=os.environ.get("MISSEDMAIL_LOG_LEVEL"),
        help="DEBUG, INFO (default; WARNING for demo), WARNING or ERROR",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(
        name: str, help_text: str, handler: Callable[[argparse.Namespace], int]
    ) -> argparse.ArgumentParser:
        command = sub.add_parser(name, help=help_text, description=help_text)
        command.set_defaults(handler=handler)
        return command

    add(
        "run",
        "HTTP API + operator UI + queue consumer + batcher + sender in one process",
        lambda a: cmd_serve(a, web=True, worker=True),
    )
    add(
        "web",
        "HTTP only: API, operator UI, metrics",
        lambda a: cmd_serve(a, web=True, worker=False),
    )
    add(
        "worker",
        "queue consumer + batcher + email sender, no HTTP",
        lambda a: cmd_serve(a, web=False, worker=True),
    )
    migrate = add("migrate", "apply database migrations", cmd_migrate)
    migrate.add_argument("--quiet", action="store_true")
    enqueue = add(
        "enqueue", "schedule events given as JSON arguments or JSON lines on stdin", cmd_enqueue
    )
    enqueue.add_argument("events", nargs="*", metavar="EVENT")
    status = add("status", "pending, due, outbox, skipped and rejected counts", cmd_status)
    status.add_argument("--json", action="store_true", help="one JSON object")
    failed = add("failed", "failed emails, newest first, with the server's answer", cmd_failed)
    failed.add_argument("--json", action="store_true", help="one JSON object")
    failed.add_argument(
        "--limit", type=int, default=100, help="how many to show (default 100, at most 1000)"
    )
    requeue = add("requeue", "give failed emails a fresh round of attempts", cmd_requeue)
    requeue.add_argument("ids", nargs="*", metavar="ID", help="email ids, as `failed` lists")
    requeue.add_argument(
        "--all-failed", action="store_true", help="every failed email that can be sent"
    )
    demo = add("demo", "a throw-away instance that sends a sample conversation", cmd_demo)
    demo.add_argument("--keep", action="store_true", help="keep the demo's data directory")
    # Its options are parsed by composing.preview itself (`missedmail preview --help`).
    preview = sub.add_parser(
        "preview",
        add_help=False,
        help="render an email as HTML or text: a sample conversation or a stored outbox email",
    )
    preview.set_defaults(handler=cmd_preview)
    add(
        "createadmin",
        "create an operator account for /ops/ (options as createsuperuser)",
        cmd_createadmin,
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # createadmin and preview pass their options through (to createsuperuser, to preview).
    if args.command in ("createadmin", "preview"):
        args.django_args = extra
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    level = args.log_level or ("WARNING" if args.command == "demo" else "INFO")
    try:
        configure_logging(level.upper())
    except ValueError:
        fail(f"--log-level: unknown level {args.log_level!r}", EXIT_USAGE)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        return 130
