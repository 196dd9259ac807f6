"""`python -m bench` (what `make bench` runs): every workload, a table, a JSON file, plots.

    python -m bench              # standard sizes, about 20 minutes on 2 cores
    python -m bench --quick      # small sizes, a smoke run of every workload (~2 minutes)
    python -m bench --full       # the sizes of issue 5 (much longer)
    python -m bench --only dispatch,idle

Needs PostgreSQL on 127.0.0.1:5432 (user postgres) and RabbitMQ on 127.0.0.1:5672 (guest),
with `rabbitmqctl` on the PATH. Everything it creates is private and removed at the end: a
database per workload, one vhost, one SMTP sink process, a temporary directory.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import workloads
from bench.broker import Vhost
from bench.data import Shape, build_org
from bench.plot import draw
from bench.report import Report, Row
from bench.sink import Sink

RESULTS = Path(__file__).resolve().parent / "results"
ORDER = (
    "ingest",
    "ingest-sqlite",
    "dispatch",
    "dispatch-sqlite",
    "punctuality",
    "backlog",
    "scale-out",
    "idle",
    "api",
    "profile",
)


def profile(ctx: workloads.Context) -> list[Row]:
    """cProfile of one batcher pass over the dispatch data: where composition time goes."""
    with ctx.database("postgresql", "profile") as db:
        org = build_org(Shape(users=min(300, ctx.sizes.dispatch_users)))
        db.load_org(org)
        past = datetime.now(UTC) - timedelta(seconds=1)
        db.schedule(org.notifications, past, past)
        db.analyze()
        db.close()
        out = RESULTS / "profile-dispatch.txt"
        result = subprocess.run(
            [sys.executable, "-m", "bench.profile_dispatch", str(out)],
            env=ctx.env(db),
            capture_output=True,
            text=True,
            check=True,
        )
        summary = json.loads(result.stdout.strip().splitlines()[-1])
    ctx.report.details["dispatch_profile"] = summary
    ctx.log("  profile of one pass (share of CPU time, ms per email):")
    for stage, share in sorted(summary["share"].items(), key=lambda item: -item[1]):
        ctx.log(f"    {stage:28} {share:6.1%}  {summary['ms_per_email'][stage]:6.2f} ms")
    return []


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    size.add_argument("--full", action="store_true", help="the sizes of issue 5")
    parser.add_argument("--only", default="", help=f"comma-separated, from: {', '.join(ORDER)}")
    parser.add_argument("--runs", type=int, default=0, help="repetitions (default per size)")
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = parser.parse_args(argv)

    sizes = workloads.QUICK if args.quick else workloads.FULL if args.full else workloads.STANDARD
    mode = "quick" if args.quick else "full" if args.full else "standard"
    if args.runs:
        sizes = workloads.Sizes(**(asdict(sizes) | {"runs": args.runs}))
    chosen = [name for name in ORDER if not args.only or name in args.only.split(",")]
    report = Report(mode=mode, sizes=asdict(sizes))
    workdir = Path(tempfile.mkdtemp(prefix="missedmail-bench-"))
    started = time.monotonic()

    def log(line: str) -> None:
        print(f"[{time.monotonic() - started:7.1f}s] {line}", flush=True)

    sink = Sink(workdir).start()
    vhost = Vhost().create()
    ctx = workloads.Context(sizes, workdir, sink, vhost, report, log)
    zulip_dispatch: list[float | None] = [None]

    def dispatch_pg(ctx: workloads.Context) -> list[Row]:
        rows = workloads.dispatch(ctx, "postgresql")
        zulip_dispatch[0] = rows[0].zulip.median
        return rows

    steps: dict[str, Callable[[workloads.Context], list[Row]]] = {
        "ingest": lambda c: workloads.ingest(c, "postgresql"),
        "ingest-sqlite": lambda c: workloads.ingest(c, "sqlite"),
        "dispatch": dispatch_pg,
        "dispatch-sqlite": lambda c: workloads.dispatch(c, "sqlite"),
        "punctuality": workloads.punctuality,
        "backlog": workloads.backlog,
        "scale-out": lambda c: workloads.scale_out(c, zulip_dispatch[0]),
        "idle": workloads.idle,
        "api": workloads.api,
        "profile": profile,
    }
    failed: list[str] = []
    try:
        for name in chosen:
            log(f"{name} …")
            try:
                for row in steps[name](ctx):
                    report.add(row)
            except Exception:
                failed.append(name)
                log(f"{name} FAILED:\n{traceback.format_exc()}")
    finally:
        sink.stop()
        vhost.delete()
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    report.seconds = time.monotonic() - started
    report.details["failed"] = failed
    report.write(args.out)
    print()
    print(report.table())
    print()
    for row in report.rows:
        for note in row.notes:
            print(f"  {row.workload} / {row.metric}: {note}")
    plots = draw(report.to_json(), args.out.parent)
    print(f"\nwrote {args.out}" + "".join(f", {p}" for p in plots))
    print(f"total {report.seconds / 60:.1f} min" + (f"; FAILED: {failed}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
