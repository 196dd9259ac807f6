"""The workloads of issue 5, each measured beside its two baselines in the same run.

Every workload builds its own private database (and uses the run's private vhost and SMTP
sink), runs missedmail as real `missedmail worker` / `missedmail web` subprocesses, and
returns `Row`s for the table. Times come from the sink's acceptance timestamps, the rows'
own `created_at` / `due_at`, and the harness's clock, never from missedmail's logs.
"""

from __future__ import annotations

import http.client
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import limits
from bench.broker import QUEUE, Vhost
from bench.data import Org, Shape, api_batches, build_org, extra_users, pending_pairs
from bench.db import SCHEDULED, USER_COLUMNS, BenchDatabase
from bench.processes import (
    API_TOKEN,
    ServiceProcess,
    machine_busy,
    service_env,
    start_workers,
    stop_all,
)
from bench.report import Figure, Report, Row
from bench.sink import Sink, free_port

OUTBOX_TABLES = (
    "outbox_deliveryattempt",
    "outbox_replyaddress",
    "outbox_outboundemail",
    "scheduling_notificationskip",
    # The ledger of emailed notifications: workloads replay the same events run after run,
    # which the product (rightly) treats as duplicates of what it has already emailed.
    "scheduling_emailednotification",
    SCHEDULED,
)


@dataclass(frozen=True)
class Sizes:
    runs: int
    ingest_users: int
    zulip_ingest_events: int
    dispatch_users: int
    zulip_dispatch_seconds: float
    punctuality_seconds: float
    punctuality_users_per_second: float
    zulip_poll_seconds: float
    backlog_pending: int
    backlog_due_users: int
    scaleout_users: int
    scaleout_workers: tuple[int, ...]
    scaleout_runs: int
    idle_seconds: float
    api_batches: int
    zulip_api_messages: int
    sqlite_ingest_users: int
    sqlite_dispatch_users: int


QUICK = Sizes(
    runs=1,
    ingest_users=1000,
    zulip_ingest_events=200,
    dispatch_users=100,
    zulip_dispatch_seconds=3,
    punctuality_seconds=4,
    punctuality_users_per_second=3,
    zulip_poll_seconds=6,
    backlog_pending=20000,
    backlog_due_users=100,
    scaleout_users=100,
    scaleout_workers=(1, 2),
    scaleout_runs=1,
    idle_seconds=5,
    api_batches=1,
    zulip_api_messages=100,
    sqlite_ingest_users=500,
    sqlite_dispatch_users=50,
)
# Fits about 20 minutes on the 2-core machine; rates hardly depend on the size past a few
# thousand notifications, so these are enough to compare. `--full` uses the sizes.
STANDARD = Sizes(
    runs=3,
    ingest_users=10000,
    zulip_ingest_events=3000,
    dispatch_users=500,
    zulip_dispatch_seconds=15,
    punctuality_seconds=20,
    punctuality_users_per_second=5,
    zulip_poll_seconds=25,
    backlog_pending=1_000_000,
    backlog_due_users=1000,
    scaleout_users=500,
    scaleout_workers=(1, 2, 3),
    scaleout_runs=1,
    idle_seconds=30,
    api_batches=10,
    zulip_api_messages=1000,
    sqlite_ingest_users=5000,
    sqlite_dispatch_users=300,
)
FULL = Sizes(
    runs=3,
    ingest_users=20000,
    zulip_ingest_events=20000,
    dispatch_users=10000,
    zulip_dispatch_seconds=60,
    punctuality_seconds=120,
    punctuality_users_per_second=5,
    zulip_poll_seconds=60,
    backlog_pending=1_000_000,
    backlog_due_users=10000,
    scaleout_users=10000,
    scaleout_workers=(1, 2, 3),
    scaleout_runs=2,
    idle_seconds=120,
    api_batches=20,
    zulip_api_messages=2000,
    sqlite_ingest_users=20000,
    sqlite_dispatch_users=2000,
)


@dataclass
class Context:
    sizes: Sizes
    workdir: Path
    sink: Sink
    vhost: Vhost
    report: Report
    log: Callable[[str], None]

    @contextmanager
    def database(self, kind: str, label: str) -> Iterator[BenchDatabase]:
        db = BenchDatabase.create(kind, self.workdir, label)
        try:
            db.migrate(self.env(db))
            yield db
        finally:
            db.drop()

    def env(
        self, db: BenchDatabase, *, queue: bool = False, smtp: bool = True, ahead: bool = True
    ) -> dict[str, str]:
        """`ahead=False`: the worker renders nothing ahead of the due time (composition all
        happens in the drain, as for a backlog; see dispatch)."""
        extra: dict[str, str] = {}
        if not ahead:
            extra["MISSEDMAIL_RENDER_AHEAD_SECONDS"] = "0"
        if queue:
            extra["AMQP_URL"] = self.vhost.url
        if smtp:
            extra.update(self.sink.env)
        return service_env(self.workdir / "data", db.url, **extra)

    def run_zulip(self, db: BenchDatabase, *args: str, queue: bool = False) -> dict[str, Any]:
        out = subprocess.run(
            [sys.executable, "-m", "bench.zulip_style", *args],
            env=self.env(db, queue=queue),
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0:
            raise RuntimeError(f"zulip-style baseline failed: {out.stderr[-2000:]}")
        result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
        return result


def _epoch(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC).timestamp()


def _reset(db: BenchDatabase) -> None:
    for table in OUTBOX_TABLES:
        db.execute(f"DELETE FROM {table}")  # noqa: S608 -- our own table names


# -- 1. ingest ------------------------------------------------------------------------------


def ingest(ctx: Context, kind: str) -> list[Row]:
    users = ctx.sizes.ingest_users if kind == "postgresql" else ctx.sizes.sqlite_ingest_users
    label = "ingest" if kind == "postgresql" else "ingest (SQLite)"
    row = Row(label, "events stored", "events/s", target="≥50% of limit, ≥10x Zulip-style")
    with ctx.database(kind, "ingest") as db:
        org = build_org(Shape(users=users, batching_period_seconds=3600))
        db.load_org(org)
        bodies = org.events()
        total = len(bodies)
        row.notes.append(f"{total} events for {users} users")
        for run in range(ctx.sizes.runs):
            _reset(db)
            ctx.vhost.fill(bodies)
            worker = ServiceProcess(
                "worker", ctx.env(db, queue=True, smtp=False), ctx.workdir / "ingest-worker.log"
            ).wait_ready()
            while db.count(SCHEDULED) < total:
                time.sleep(0.05)
            done = time.time()
            worker.stop()
            first = _epoch(db.scalar(f"SELECT min(created_at) FROM {SCHEDULED}"))  # noqa: S608
            row.missedmail.runs.append(total / (done - first))
            ctx.log(f"  {label} run {run + 1}: missedmail {row.missedmail.runs[-1]:,.0f}/s")

            _reset(db)
            ctx.vhost.fill(bodies)
            row.limit.runs.append(limits.ingest(ctx.vhost, db, total))
            ctx.log(f"  {label} run {run + 1}: limit {row.limit.runs[-1]:,.0f}/s")

            _reset(db)
            sample = bodies[: ctx.sizes.zulip_ingest_events]
            ctx.vhost.fill(sample)
            result = ctx.run_zulip(db, "ingest", "--count", str(len(sample)), queue=True)
            row.zulip.runs.append(result["events"] / result["seconds"])
            ctx.log(f"  {label} run {run + 1}: zulip-style {row.zulip.runs[-1]:,.0f}/s")
        row.notes.append(f"Zulip-style measured on the first {ctx.sizes.zulip_ingest_events}")
    ctx.vhost.fill([])
    return [row]


# -- 2. dispatch ----------------------------------------------------------------------------


@dataclass
class DispatchRun:
    emails: int
    seconds: float
    duplicates: int  # the same email accepted twice, or a message in two emails
    lost: int  # notified messages in no accepted email
    split: int  # conversations sent as more than one email
    peak_rss_mb: list[float]
    mimes: list[tuple[str, str, bytes]]
    machine_busy: float = 0.0  # share of both cores busy during the drain (all processes)
    worker_cpu_share: list[float] = field(default_factory=list)  # cores used by each worker
    cpu_before_due: float = 0.0  # the workers' CPU seconds from start to the due time


def dispatch_once(
    ctx: Context,
    db: BenchDatabase,
    org: Org,
    workers: int,
    label: str,
    *,
    keep_mime: bool,
    ahead: bool = False,
) -> DispatchRun:
    """The workers start, then every notification falls due at once. `ahead`: whether
    they may render ahead in the seconds before (the time they need to start, plus 2 s)."""
    _reset(db)
    ctx.sink.reset()
    now = datetime.now(UTC)
    due = now + timedelta(seconds=6 + 2 * workers)
    db.schedule(org.notifications, due, now)
    db.analyze()
    processes = start_workers(workers, ctx.env(db, ahead=ahead), ctx.workdir, label)
    if time.time() > due.timestamp():
        ctx.log("  warning: workers were not ready before the rows fell due")
    _sleep_until(time.monotonic() + due.timestamp() - time.time())
    busy_before, total_before = machine_busy()
    cpu_before = [p.cpu_seconds() for p in processes]
    finished = ctx.sink.wait_for(org.expected_emails, timeout=3600)
    busy_after, total_after = machine_busy()
    cpu = [p.cpu_seconds() - c for p, c in zip(processes, cpu_before, strict=True)]
    last = max((a.at for a in ctx.sink.arrivals), default=due.timestamp())
    ctx.sink.settle(1.0)  # let duplicates, if any, arrive before counting
    rss = [p.peak_rss_mb() for p in processes]
    stop_all(processes)
    ids = Counter(a.message_id for a in ctx.sink.arrivals)
    mimes: list[tuple[str, str, bytes]] = []
    if keep_mime:
        mimes = [
            (str(a), str(b), bytes(c))
            for a, b, c in db.rows(
                "SELECT envelope_from, to_address, mime FROM outbox_outboundemail ORDER BY id"
            )
        ]
    if not finished:
        ctx.log(f"  warning: only {len(ids)} of {org.expected_emails} emails arrived")
    # Every notified message must be in exactly one email the sink accepted.
    emailed: Counter[tuple[int, int]] = Counter()
    for user_id, header, message_ids in db.rows(
        "SELECT user_id, message_id_header, message_ids FROM outbox_outboundemail"
    ):
        if header in ids:
            values = json.loads(message_ids) if isinstance(message_ids, str) else message_ids
            emailed.update((int(user_id), int(m)) for m in values)
    wanted = {(user, message) for user, message, _ in org.notifications}
    return DispatchRun(
        emails=len(ctx.sink.arrivals),
        seconds=last - due.timestamp(),
        duplicates=sum(ids.values()) - len(ids) + sum(n - 1 for n in emailed.values() if n > 1),
        lost=len(wanted - emailed.keys()),
        split=max(0, len(ids) - org.expected_emails),
        peak_rss_mb=rss,
        mimes=mimes,
        machine_busy=(busy_after - busy_before) / max(total_after - total_before, 1e-9),
        worker_cpu_share=[c / max(last - due.timestamp(), 1e-9) for c in cpu],
        cpu_before_due=sum(cpu_before),
    )


def dispatch(ctx: Context, kind: str) -> list[Row]:
    users = ctx.sizes.dispatch_users if kind == "postgresql" else ctx.sizes.sqlite_dispatch_users
    label = "dispatch" if kind == "postgresql" else "dispatch (SQLite)"
    row = Row(label, "emails accepted by SMTP", "emails/s", target="≥50% of limit, ≥3x Zulip")
    sender = Row(label, "sender alone: outbox to SMTP", "emails/s", target="≥50% of limit")
    ahead = Row(label, "rendered ahead: emails accepted by SMTP", "emails/s")
    with ctx.database(kind, "dispatch") as db:
        org = build_org(Shape(users=users))
        db.load_org(org)
        row.notes.append(
            f"{len(org.notifications)} notifications for {users} users, "
            f"{org.expected_emails} emails"
        )
        one_connection: list[float] = []
        busy: list[float] = []
        cores: list[float] = []
        cpu_ms: list[float] = []  # the worker's CPU per email, all told
        ahead_cpu_ms: list[float] = []  # the same, rendering ahead: in the drain, and before
        for run in range(ctx.sizes.runs):
            result = dispatch_once(ctx, db, org, 1, "dispatch", keep_mime=True)
            busy.append(result.machine_busy)
            cores.append(sum(result.worker_cpu_share))
            cpu_ms.append(1000 * cores[-1] * result.seconds / max(result.emails, 1))
            row.missedmail.runs.append(result.emails / result.seconds)
            ctx.log(f"  {label} run {run + 1}: missedmail {row.missedmail.runs[-1]:,.1f}/s")
            if result.duplicates or result.lost or result.split:
                row.notes.append(
                    f"run {run + 1}: {result.duplicates} dup, {result.lost} lost, "
                    f"{result.split} split"
                )
            connections = sender_connections()
            row.limit.runs.append(limits.smtp(result.mimes, ctx.sink.port, connections))
            one_connection.append(limits.smtp(result.mimes, ctx.sink.port, 1))
            ctx.log(f"  {label} run {run + 1}: limit {row.limit.runs[-1]:,.0f}/s")
            sender.missedmail.runs.append(_sender_alone(ctx, db, len(result.mimes)))
            sender.limit.runs.append(row.limit.runs[-1])
            ctx.log(f"  {label} run {run + 1}: sender alone {sender.missedmail.runs[-1]:,.0f}/s")

            warm = dispatch_once(ctx, db, org, 1, "dispatch-ahead", keep_mime=False, ahead=True)
            ahead.missedmail.runs.append(warm.emails / warm.seconds)
            ahead.limit.runs.append(row.limit.runs[-1])
            drain_ms = 1000 * sum(warm.worker_cpu_share) * warm.seconds / max(warm.emails, 1)
            # What rendering ahead cost: the CPU before the due time, beyond starting up.
            before_ms = 1000 * (warm.cpu_before_due - result.cpu_before_due) / max(warm.emails, 1)
            ahead_cpu_ms.append(drain_ms + before_ms)
            ctx.log(
                f"  {label} run {run + 1}: rendered ahead {ahead.missedmail.runs[-1]:,.1f}/s, "
                f"{drain_ms:.2f} ms CPU per email in the drain + {before_ms:.2f} before it"
            )
            if warm.duplicates or warm.lost or warm.split:
                ahead.notes.append(
                    f"run {run + 1}: {warm.duplicates} dup, {warm.lost} lost, {warm.split} split"
                )

            _reset(db)
            past = datetime.now(UTC) - timedelta(seconds=1)
            db.schedule(org.notifications, past, past)
            zulip = ctx.run_zulip(
                db, "dispatch", "--smtp-port", str(ctx.sink.port),
                "--seconds", str(ctx.sizes.zulip_dispatch_seconds),
            )  # fmt: skip
            row.zulip.runs.append(zulip["emails"] / zulip["seconds"])
            ahead.zulip.runs.append(row.zulip.runs[-1])
            ctx.log(f"  {label} run {run + 1}: zulip-style {row.zulip.runs[-1]:,.1f}/s")
        row.notes.append(
            f"limit over {sender_connections()} connection(s); over one connection: "
            f"{statistics.median(one_connection):,.0f}/s"
        )
        ctx.report.details[f"{label} smtp limit one connection"] = one_connection
        row.notes.append(
            f"during the drain both cores were {statistics.median(busy):.0%} busy; the worker "
            f"used {statistics.median(cores):.2f} cores, {statistics.median(cpu_ms):.2f} ms of "
            "CPU per email (composing, storing, claiming, sending, recording)"
        )
        ctx.report.details[f"{label} worker cpu ms per email"] = cpu_ms
        ctx.report.details[f"{label} rendered ahead worker cpu ms per email"] = ahead_cpu_ms
    row.notes.append(
        "composed at the due time: MISSEDMAIL_RENDER_AHEAD_SECONDS=0, as for a backlog "
        "(the workers' first sight of the rows is when they are already due)"
    )
    ahead.notes.append(
        "the default settings: in the seconds between the worker's start and the due time it "
        "renders the messages ahead, as it does while notifications wait their batching period"
    )
    ahead.notes.append(
        f"the worker's CPU per email, the rendering ahead included: "
        f"{statistics.median(ahead_cpu_ms):.2f} ms"
    )
    sender.notes.append("the composed emails put back in the outbox, then one worker sends them")
    return [row, ahead, sender]


def _sender_alone(ctx: Context, db: BenchDatabase, emails: int) -> float:
    """The sender's own rate: every email of the run queued again, nothing to compose."""
    db.execute("DELETE FROM outbox_deliveryattempt")
    db.execute(
        "UPDATE outbox_outboundemail SET status = 'queued', attempts = 0, next_attempt_at = %s, "
        "lease_expires_at = NULL, lease_owner = '', claimed_at = NULL, sent_at = NULL",
        [datetime.now(UTC)],
    )
    ctx.sink.reset()
    worker = ServiceProcess("worker", ctx.env(db), ctx.workdir / "sender-worker.log")
    worker.wait_ready()
    ctx.sink.wait_for(emails, timeout=3600)
    worker.stop()
    times = sorted(a.at for a in ctx.sink.arrivals)
    return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0


_SENDER_CONNECTIONS: list[int] = []


def sender_connections() -> int:
    """How many SMTP connections one worker process uses (WorkerOptions.sender_connections),
    asked of missedmail itself in a subprocess (its options module needs Django)."""
    if not _SENDER_CONNECTIONS:
        code = (
            "from missedmail.startup import setup_django; setup_django(); "
            "from missedmail.worker.service import WorkerOptions; "
            "print(getattr(WorkerOptions(), 'sender_connections', 1))"
        )
        out = subprocess.run(
            [sys.executable, "-c", code],
            env=service_env(Path(tempfile.gettempdir()) / "missedmail-bench-probe", "sqlite://"),
            capture_output=True,
            text=True,
            check=True,
        )
        _SENDER_CONNECTIONS.append(int(out.stdout.strip().splitlines()[-1]))
    return _SENDER_CONNECTIONS[0]


# -- 3. punctuality -------------------------------------------------------------------------


def _percentiles(latencies: Sequence[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    if not ordered:
        return {"p50": 0.0, "p99": 0.0, "max": 0.0, "count": 0}

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    return {"p50": pick(0.5), "p99": pick(0.99), "max": ordered[-1], "count": len(ordered)}


def punctuality(ctx: Context) -> list[Row]:
    sizes = ctx.sizes
    rows = [
        Row("punctuality", name, "ms", higher_is_better=False, target=target)
        for name, target in (("p50 SMTP-accepted - due", ""), ("p99", "≤250"), ("max", "≤1000"))
    ]
    per_second = sizes.punctuality_users_per_second
    users = int(per_second * max(sizes.punctuality_seconds, sizes.zulip_poll_seconds)) + 10
    with ctx.database("postgresql", "punct") as db:
        org = build_org(Shape(users=users, batching_period_seconds=1))
        db.load_org(org)
        by_user: dict[int, list[bytes]] = {}
        for body in org.events():
            by_user.setdefault(json.loads(body)["user_profile_id"], []).append(body)
        user_ids = sorted(by_user)
        latencies_runs: list[dict[str, float]] = []
        samples: dict[str, list[float]] = {}
        for run in range(sizes.runs):
            _reset(db)
            ctx.sink.reset()
            ctx.vhost.fill([])
            worker = ServiceProcess(
                "worker", ctx.env(db, queue=True), ctx.workdir / "punct-worker.log"
            ).wait_ready()
            count = int(per_second * sizes.punctuality_seconds)
            _steady(ctx.vhost, [by_user[u] for u in user_ids[:count]], per_second)
            _drain(db)
            ctx.sink.settle(1.5)
            worker.stop()
            due = dict(
                db.rows(
                    "SELECT message_id_header, extract(epoch from due_at) FROM outbox_outboundemail"
                )
            )
            latencies = [
                (a.at - float(due[a.message_id])) * 1000
                for a in ctx.sink.arrivals
                if a.message_id in due
            ]
            stats = _percentiles(latencies)
            latencies_runs.append(stats)
            samples.setdefault("missedmail", []).extend(latencies)
            for row, key in zip(rows, ("p50", "p99", "max"), strict=True):
                row.missedmail.runs.append(stats[key])
            ctx.log(f"  punctuality run {run + 1}: missedmail {_fmt(stats)}")

            # The limit: a timer that sends a prebuilt email at each of the same due times.
            schedule = sorted(float(v) for v in due.values())
            mime = db.rows("SELECT envelope_from, to_address, mime FROM outbox_outboundemail")
            limit_latencies = _timer_sends(ctx.sink, schedule, mime)
            stats = _percentiles(limit_latencies)
            samples.setdefault("limit", []).extend(limit_latencies)
            for row, key in zip(rows, ("p50", "p99", "max"), strict=True):
                row.limit.runs.append(stats[key])
            ctx.log(f"  punctuality run {run + 1}: limit {_fmt(stats)}")

        # Zulip-style: rows appear at the same steady rate; a 5 s poll sends what is due.
        _reset(db)
        ctx.sink.reset()
        poller = threading.Thread(
            target=ctx.run_zulip,
            args=(db, "poll", "--smtp-port", str(ctx.sink.port), "--seconds",
                  str(sizes.zulip_poll_seconds)),
        )  # fmt: skip
        poller.start()
        count = int(per_second * sizes.zulip_poll_seconds)
        pairs: dict[int, list[tuple[int, int, str]]] = {}
        for user, message, trigger in org.notifications:
            pairs.setdefault(user, []).append((user, message, trigger))
        interval = 1 / per_second
        start = time.monotonic()
        for n, user in enumerate(user_ids[:count]):
            _sleep_until(start + n * interval)
            now = datetime.now(UTC)
            db.schedule(pairs[user], now + timedelta(seconds=1), now)
        poller.join()
        ctx.sink.settle(1.0)
        zulip = [
            (a.at - float(a.message_id.split("-")[1])) * 1000
            for a in ctx.sink.arrivals
            if a.message_id.startswith("<zdue-")
        ]
        stats = _percentiles(zulip)
        samples["zulip_style"] = zulip
        for row, key in zip(rows, ("p50", "p99", "max"), strict=True):
            row.zulip.runs.append(stats[key])
        ctx.log(f"  punctuality: zulip-style {_fmt(stats)}")
    rows[0].notes.append(
        f"{per_second:g} users/s (10 events each, 3 emails per batch), 1 s batching period"
    )
    ctx.report.details["punctuality_samples_ms"] = {
        key: sorted(values) for key, values in samples.items()
    }
    ctx.report.details["punctuality_runs"] = latencies_runs
    return rows


def _fmt(stats: dict[str, float]) -> str:
    return (
        f"p50 {stats['p50']:.0f} ms, p99 {stats['p99']:.0f} ms, max {stats['max']:.0f} ms "
        f"({stats['count']:.0f} emails)"
    )


def _sleep_until(deadline: float) -> None:
    remaining = deadline - time.monotonic()
    if remaining > 0:
        time.sleep(remaining)


def _steady(vhost: Vhost, batches: Sequence[Sequence[bytes]], per_second: float) -> None:
    """Publish one user's events every 1/per_second seconds."""
    connection = vhost.connect()
    channel = connection.channel()
    interval = 1 / per_second
    start = time.monotonic()
    for n, bodies in enumerate(batches):
        _sleep_until(start + n * interval)
        for body in bodies:
            channel.basic_publish("", QUEUE, body, limits.pika.BasicProperties(delivery_mode=2))
        connection.process_data_events(time_limit=0)
    connection.close()


def _drain(db: BenchDatabase, timeout: float = 300) -> None:
    """Wait until nothing is pending and every email left the outbox."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pending = db.count(SCHEDULED)
        unsent = db.count("outbox_outboundemail", "WHERE status <> 'sent'")
        if pending == 0 and unsent == 0:
            return
        time.sleep(0.2)


def _timer_sends(
    sink: Sink, schedule: Sequence[float], mime: Sequence[tuple[Any, ...]]
) -> list[float]:
    """Send one prebuilt email at each due time (shifted to start now); latencies in ms."""
    import smtplib

    if not schedule:
        return []
    sink.reset()
    shift = time.time() + 1.0 - schedule[0]
    sent: list[float] = []
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=30) as client:
        for n, at in enumerate(schedule):
            due = at + shift
            delay = due - time.time()
            if delay > 0:
                time.sleep(delay)
            sender, recipient, data = mime[n % len(mime)]
            client.sendmail(str(sender), [str(recipient)], bytes(data))
            sent.append(due)
    sink.settle(0.5)
    return [(a.at - due) * 1000 for a, due in zip(sink.arrivals, sent, strict=False)]


# -- 4. backlog ---------------------------------------------------------------------------


def backlog(ctx: Context) -> list[Row]:
    sizes = ctx.sizes
    drain = Row("backlog", "drain time", "s", higher_is_better=False)
    rss = Row("backlog", "peak RSS per worker", "MB", higher_is_better=False, target="≤300")
    wait = Row("backlog", "wait of a batch due mid-drain", "s", higher_is_better=False, target="≤2")
    with ctx.database("postgresql", "backlog") as db:
        org = build_org(Shape(users=sizes.backlog_due_users))
        db.load_org(org)
        due_rows = len(org.notifications)
        later_users = max(0, (sizes.backlog_pending - due_rows) // 10)
        first_later = 10_000_000
        db.load("core_userprofile", USER_COLUMNS, extra_users(first_later, later_users, 120))
        now = datetime.now(UTC)
        later = now + timedelta(days=1)
        pairs = pending_pairs(org, first_later, later_users, 10)
        db.schedule(((u, m, "stream_email_notify") for u, m in pairs), later, now)
        probe_user = int(str(org.users[0][0]))
        probe = [n for n in org.notifications if n[0] == probe_user]
        backlog_notes = (
            f"{due_rows + later_users * 10:,} pending, {due_rows:,} due at once "
            f"({org.expected_emails:,} emails)"
        )
        drain.notes.append(backlog_notes)
        drain.notes.append("nothing rendered ahead (MISSEDMAIL_RENDER_AHEAD_SECONDS=0): a backlog")
        rest = [n for n in org.notifications if n[0] != probe_user]
        for _run in range(sizes.runs if sizes.runs < 3 else 1):
            _reset_due(db)
            ctx.sink.reset()
            start = datetime.now(UTC)
            due = start + timedelta(seconds=8)
            db.schedule(rest, due, start)
            db.analyze()
            worker = ServiceProcess(
                "worker", ctx.env(db, ahead=False), ctx.workdir / "backlog-worker.log"
            ).wait_ready()
            _sleep_until(time.monotonic() + (due.timestamp() - time.time()) + 2.0)
            # A batch that falls due one second from now, while the backlog drains.
            probe_due = datetime.now(UTC) + timedelta(seconds=1)
            db.schedule(probe, probe_due, datetime.now(UTC))
            db.execute("SELECT pg_notify('missedmail_due', %s)", [probe_due.isoformat()])
            ctx.sink.wait_for(org.expected_emails, timeout=7200)
            last = max(a.at for a in ctx.sink.arrivals)
            probe_ids = {
                str(r[0])
                for r in db.rows(
                    "SELECT message_id_header FROM outbox_outboundemail WHERE user_id = %s",
                    [probe_user],
                )
            }
            probe_at = max(
                (a.at for a in ctx.sink.arrivals if a.message_id in probe_ids), default=0
            )
            drain.missedmail.runs.append(last - due.timestamp())
            rss.missedmail.runs.append(worker.peak_rss_mb())
            wait.missedmail.runs.append(probe_at - probe_due.timestamp())
            worker.stop()
            ctx.log(
                f"  backlog: drained in {drain.missedmail.runs[-1]:.1f} s, peak RSS "
                f"{rss.missedmail.runs[-1]:.0f} MB, mid-drain batch waited "
                f"{wait.missedmail.runs[-1]:.2f} s"
            )
            mimes = [
                (str(a), str(b), bytes(c))
                for a, b, c in db.rows(
                    "SELECT envelope_from, to_address, mime FROM outbox_outboundemail"
                )
            ]
            rate = limits.smtp(mimes, ctx.sink.port, sender_connections())
            drain.limit.runs.append(len(mimes) / rate)
            wait.limit.runs.append(0.0)

        # Zulip-style: one unbounded pass over every due row; drain time extrapolated from
        # the rate over the time budget, memory measured, and a batch falling due mid-pass
        # waits for the whole pass plus up to one 5 s poll.
        _reset_due(db)
        past = datetime.now(UTC) - timedelta(seconds=1)
        db.schedule(org.notifications, past, past)
        zulip = ctx.run_zulip(
            db, "dispatch", "--smtp-port", str(ctx.sink.port),
            "--seconds", str(sizes.zulip_dispatch_seconds),
        )  # fmt: skip
        zulip_rate = zulip["emails"] / zulip["seconds"]
        drain.zulip.runs.append(org.expected_emails / zulip_rate)
        rss.zulip.runs.append(zulip["peak_rss_mb"])
        wait.zulip.runs.append(org.expected_emails / zulip_rate + 2.5)
        drain.notes.append("Zulip-style drain extrapolated from its rate over its time budget")
        wait.notes.append("limit: 0; Zulip-style: the rest of its pass + half a 5 s poll")
    return [drain, rss, wait]


def _reset_due(db: BenchDatabase) -> None:
    """Forget the previous run's due part, keep the million not due."""
    for table in OUTBOX_TABLES[:-1]:
        db.execute(f"DELETE FROM {table}")  # noqa: S608 -- our own table names
    db.execute(f"DELETE FROM {SCHEDULED} WHERE scheduled_timestamp < now() + interval '1 hour'")  # noqa: S608


# -- 5. scale-out -------------------------------------------------------------------------


def scale_out(ctx: Context, zulip_rate: float | None) -> list[Row]:
    sizes = ctx.sizes
    rows: list[Row] = []
    with ctx.database("postgresql", "scale") as db:
        org = build_org(Shape(users=sizes.scaleout_users))
        db.load_org(org)
        for workers in sizes.scaleout_workers:
            row = Row(
                "scale-out", f"{workers} worker process(es)", "emails/s", target="0 dup, 0 lost"
            )
            duplicates = lost = split = 0
            busy: list[float] = []
            shares: list[float] = []
            for _ in range(sizes.scaleout_runs):
                result = dispatch_once(
                    ctx, db, org, workers, f"scale{workers}", keep_mime=not row.limit.runs
                )
                row.missedmail.runs.append(result.emails / result.seconds)
                duplicates += result.duplicates
                lost += result.lost
                split += result.split
                busy.append(result.machine_busy)
                shares.append(sum(result.worker_cpu_share))
                if not row.limit.runs:
                    row.limit.runs.append(
                        limits.smtp(result.mimes, ctx.sink.port, workers * sender_connections())
                    )
            if zulip_rate is not None and workers == 1:
                row.zulip.runs.append(zulip_rate)
            row.notes.append(f"duplicates {duplicates}, lost {lost}, conversations split {split}")
            ctx.report.details[f"scale-out {workers}"] = {
                "duplicates": duplicates, "lost": lost, "split": split,
                "machine_busy": busy, "workers_cores": shares,
            }  # fmt: skip
            row.notes.append(
                f"both cores {statistics.median(busy):.0%} busy; the workers used "
                f"{statistics.median(shares):.2f} cores"
            )
            ctx.log(
                f"  scale-out {workers}: {row.missedmail.median:,.1f} emails/s, "
                f"{duplicates} duplicates, {lost} lost, {split} split"
            )
            rows.append(row)
    rows[0].notes.append("Zulip-style: only one worker may run; its one-process rate")
    return rows


# -- 6. idle ------------------------------------------------------------------------------


def idle(ctx: Context) -> list[Row]:
    seconds = ctx.sizes.idle_seconds
    nothing = Row("idle", "queries/min, nothing pending", "per min", higher_is_better=False)
    waiting = Row(
        "idle", "queries/min, pending not due", "per min", higher_is_better=False,
        target="heartbeat only",
    )  # fmt: skip
    with ctx.database("postgresql", "idle") as db, ctx.database("postgresql", "idlez") as zdb:
        org = build_org(Shape(users=20, batching_period_seconds=3600))
        later = datetime.now(UTC) + timedelta(hours=1)
        for each in (db, zdb):
            each.load_org(org)
        zdb.schedule(org.notifications, later, datetime.now(UTC))
        for each in (db, zdb):
            each.close()
        worker = ServiceProcess(
            "worker", ctx.env(db, queue=True), ctx.workdir / "idle-worker.log"
        ).wait_ready()
        # The Zulip-style poller runs beside it, on its own database, with work pending
        # but not due all along: the state in which Zulip's batcher polls every 5 s.
        poller = threading.Thread(
            target=ctx.run_zulip,
            args=(zdb, "poll", "--smtp-port", str(ctx.sink.port),
                  "--seconds", str(2 * seconds + 36)),
        )  # fmt: skip
        poller.start()
        time.sleep(12)  # start-up statistics reach pg_stat_database
        mine, zulip = _queries_per_minute([db, zdb], seconds)
        nothing.missedmail.runs.append(mine)
        waiting.zulip.runs.append(zulip)
        db.schedule(org.notifications, later, datetime.now(UTC))
        db.close()
        mine, zulip = _queries_per_minute([db, zdb], seconds)
        waiting.missedmail.runs.append(mine)
        waiting.zulip.runs.append(zulip)
        worker.stop()
        poller.join()
        ctx.log(
            f"  idle: {nothing.missedmail.runs[-1]:.1f} queries/min with nothing pending, "
            f"{waiting.missedmail.runs[-1]:.1f} with work pending but not due; Zulip-style "
            f"{waiting.zulip.median:.1f}"
        )
        nothing.zulip.runs.append(0.0)  # Zulip's batcher sleeps when nothing is pending
        for row in (nothing, waiting):
            row.limit.runs.append(0.0)
        waiting.notes.append("queries = committed transactions (autocommit), pg_stat_database")
    return [nothing, waiting]


def _queries_per_minute(dbs: Sequence[BenchDatabase], seconds: float) -> list[float]:
    """Transactions committed per minute in each database over `seconds` (PostgreSQL
    flushes a backend's statistics within ~10 s, hence the wait before the last reading)."""
    import psycopg

    from bench.db import ADMIN_URL

    def committed() -> list[int]:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            counts = dict(
                conn.execute("SELECT datname, xact_commit FROM pg_stat_database").fetchall()
            )
        return [int(counts.get(db.name, 0)) for db in dbs]

    before = committed()
    time.sleep(seconds + 11)
    after = committed()
    # The sampling connection is to another database; nothing else touches these.
    return [(a - b) * 60 / (seconds + 11) for a, b in zip(after, before, strict=True)]


# -- 7. API -------------------------------------------------------------------------------


def api(ctx: Context) -> list[Row]:
    sizes = ctx.sizes
    row = Row("API", "POST /api/v1/messages (1,000 x 5 recipients)", "msgs/s", target="≥50%")
    with ctx.database("postgresql", "api") as db:
        org = build_org(Shape(users=2000))
        db.load_org(org)
        batches = api_batches(
            org, batches=sizes.api_batches * (sizes.runs + 1), per_batch=1000, recipients=5,
            first_id=50_000_000,
        )  # fmt: skip
        port = free_port()
        env = ctx.env(db) | {"MISSEDMAIL_BIND": f"127.0.0.1:{port}"}
        web = ServiceProcess("web", env, ctx.workdir / "api-web.log").wait_ready()
        per_run = sizes.api_batches
        for run in range(sizes.runs):
            mine = batches[run * per_run : (run + 1) * per_run]
            row.missedmail.runs.append(_post_batches(port, [b.body for b in mine]))
            ctx.log(f"  API run {run + 1}: missedmail {row.missedmail.runs[-1]:,.0f} msgs/s")
        web.stop()
        spare = batches[sizes.runs * per_run :]
        for run in range(sizes.runs):
            shifted = [
                (
                    [(r[0] + 10_000_000 * (run + 1), *r[1:]) for r in b.messages],
                    [(u, m + 10_000_000 * (run + 1), f) for u, m, f in b.user_messages],
                )
                for b in spare
            ]
            row.limit.runs.append(limits.api_insert(db, shifted))  # type: ignore[arg-type]
        result = ctx.run_zulip(db, "api", "--count", str(sizes.zulip_api_messages))
        row.zulip.runs.append(result["messages"] / result["seconds"])
        row.notes.append(
            "limit: COPY of the same message and recipient rows; Zulip-style: one ORM row at a time"
        )
    return [row]


def _post_batches(port: int, bodies: Sequence[dict[str, object]]) -> float:
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    headers = {"Authorization": f"Bearer {API_TOKEN}", "Content-Type": "application/json"}
    encoded = [json.dumps(body).encode() for body in bodies]
    messages = 0
    started = time.perf_counter()
    for body, data in zip(bodies, encoded, strict=True):
        client.request("POST", "/api/v1/messages", body=data, headers=headers)
        response = client.getresponse()
        payload = response.read()
        if response.status != 200:
            raise RuntimeError(f"API answered {response.status}: {payload[:300]!r}")
        messages += len(body["messages"])  # type: ignore[arg-type]
    seconds = time.perf_counter() - started
    client.close()
    return messages / seconds


def figure(values: Sequence[float]) -> Figure:
    return Figure(list(values))
