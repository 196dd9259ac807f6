"""Where a batcher pass spends its time: one `send_due_batches` pass under cProfile.

Run as `python -m bench.profile_dispatch OUT.txt` with DATABASE_URL set to a benchmark
database whose notifications are due. Prints one JSON line: the pass's wall time, emails, and
the share of its CPU time in each stage of composition (self time of the functions, grouped
by the library or module they belong to); writes the top functions to OUT.txt.
"""

from __future__ import annotations

import cProfile
import io
import json
import logging
import pstats
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# (stage, substrings of "file:function" that belong to it), first match wins.
STAGES = (
    ("CSS inlining", ("css_inline", "CSSInliner")),
    ("sanitising (nh3)", ("nh3", "Cleaner", "content/sanitize")),
    ("Markdown", ("markdown_it", "mdit_py_plugins", "linkify", "content/markdown", "dialect")),
    ("other content transforms", ("composing/content/",)),
    ("templates", ("django/template", "htmlbody")),
    ("MIME building", ("/email/", "outbox/mime", "outbox/headers", "quopri", "base64")),
    ("database", ("django/db", "psycopg", "sqlite3", "select.", "selectors", "socket")),
    ("composer logic", ("missedmail/composing",)),
    ("batcher and outbox", ("missedmail/worker", "missedmail/outbox", "missedmail/scheduling")),
)


def without_machine_paths(listing: str) -> str:
    """The listing with this checkout's and this Python's directories cut off the file
    names, so the committed profile names files, not one machine's layout."""
    prefixes = sorted(
        {*(p for p in sys.path if p and p.startswith("/")), str(Path.cwd())}, key=len, reverse=True
    )
    for prefix in prefixes:
        listing = listing.replace(prefix.rstrip("/") + "/", "")
    return listing


def stage_of(key: tuple[str, int, str]) -> str:
    filename, _line, function = key
    name = f"{filename}:{function}"
    for stage, needles in STAGES:
        if any(needle in name for needle in needles):
            return stage
    return "other (Python, Django)"


def main(out_path: str) -> int:
    from missedmail.startup import setup_django

    settings = setup_django()
    logging.disable(logging.INFO)
    from missedmail.composing.batch import CompositionOptions
    from missedmail.outbox.config import OutboxConfig
    from missedmail.worker.batching import BatcherConfig, send_due_batches

    config = BatcherConfig(
        composition=CompositionOptions(reply_by_email=False),
        outbox=OutboxConfig.from_settings(settings),
        max_rows_per_pass=10**9,
    )
    profile = cProfile.Profile()
    started = time.perf_counter()
    profile.enable()
    result = send_due_batches(datetime.now(UTC), config)
    profile.disable()
    wall = time.perf_counter() - started
    stats = pstats.Stats(profile)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    by_stage: dict[str, float] = {}
    for key, (_cc, _nc, tottime, _ct, _callers) in raw.items():
        stage = stage_of(key)
        by_stage[stage] = by_stage.get(stage, 0.0) + tottime
    total = sum(by_stage.values()) or 1.0
    text = io.StringIO()
    pstats.Stats(profile, stream=text).sort_stats("cumulative").print_stats(40)
    with open(out_path, "w", encoding="utf-8") as out:
        out.write(without_machine_paths(text.getvalue()))
    print(
        json.dumps(
            {
                "wall_seconds_profiled": wall,
                "users": result.users,
                "emails": result.emails,
                "share": {k: round(v / total, 3) for k, v in sorted(by_stage.items())},
                "ms_per_email": {
                    k: round(v * 1000 / max(result.emails, 1), 2)
                    for k, v in sorted(by_stage.items())
                },
            }
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
