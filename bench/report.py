"""Results: medians and spreads of repeated runs, the printed table, the JSON file."""

from __future__ import annotations

import json
import platform
import statistics
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


@dataclass
class Figure:
    """One measured quantity over several runs (e.g. missedmail's ingest rate)."""

    runs: list[float] = field(default_factory=list)

    @property
    def median(self) -> float | None:
        return statistics.median(self.runs) if self.runs else None

    @property
    def spread(self) -> tuple[float, float] | None:
        return (min(self.runs), max(self.runs)) if self.runs else None

    def to_json(self) -> dict[str, Any]:
        return {"median": self.median, "min_max": self.spread, "runs": self.runs}


@dataclass
class Row:
    """One line of the table: missedmail's figure beside the limit and the Zulip-style
    baseline, each measured in the same run."""

    workload: str
    metric: str
    unit: str
    higher_is_better: bool = True
    missedmail: Figure = field(default_factory=Figure)
    limit: Figure = field(default_factory=Figure)
    zulip: Figure = field(default_factory=Figure)
    target: str = ""
    notes: list[str] = field(default_factory=list)

    def ratio(self, other: Figure) -> float | None:
        mine, theirs = self.missedmail.median, other.median
        if mine is None or theirs is None or mine == 0 or theirs == 0:
            return None
        return mine / theirs if self.higher_is_better else theirs / mine

    def to_json(self) -> dict[str, Any]:
        return {
            "workload": self.workload,
            "metric": self.metric,
            "unit": self.unit,
            "higher_is_better": self.higher_is_better,
            "missedmail": self.missedmail.to_json(),
            "limit": self.limit.to_json(),
            "zulip_style": self.zulip.to_json(),
            "vs_limit": self.ratio(self.limit),
            "vs_zulip_style": self.ratio(self.zulip),
            "target": self.target,
            "notes": self.notes,
        }


@dataclass
class Report:
    mode: str
    sizes: dict[str, Any]
    rows: list[Row] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    seconds: float = 0.0

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        return row

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "started_at": self.started_at,
            "seconds": round(self.seconds, 1),
            "machine": {
                "cpus": _cpus(),
                "python": platform.python_version(),
                "platform": platform.platform(),
            },
            "sizes": self.sizes,
            "rows": [row.to_json() for row in self.rows],
            "details": self.details,
        }

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2, default=str) + "\n")

    def table(self) -> str:
        header = (
            "workload",
            "metric",
            "missedmail",
            "limit",
            "zulip-style",
            "vs limit",
            "vs zulip",
            "target",
        )
        lines = [header]
        for row in self.rows:
            lines.append(
                (
                    row.workload,
                    f"{row.metric} ({row.unit})",
                    _cell(row.missedmail),
                    _cell(row.limit),
                    _cell(row.zulip),
                    _ratio(row.ratio(row.limit)),
                    _ratio(row.ratio(row.zulip)),
                    row.target,
                )
            )
        widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
        out = []
        for n, line in enumerate(lines):
            out.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip())
            if n == 0:
                out.append("  ".join("-" * w for w in widths))
        return "\n".join(out)

    def markdown(self) -> str:
        out = [
            "| workload | metric | missedmail | limit | Zulip-style | vs limit | vs Zulip-style "
            "| target |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for row in self.rows:
            out.append(
                f"| {row.workload} | {row.metric} ({row.unit}) | {_cell(row.missedmail)} "
                f"| {_cell(row.limit)} | {_cell(row.zulip)} | {_ratio(row.ratio(row.limit))} "
                f"| {_ratio(row.ratio(row.zulip))} | {row.target} |"
            )
        return "\n".join(out)


def _number(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _cell(figure: Figure) -> str:
    if figure.median is None or figure.spread is None:
        return "-"
    low, high = figure.spread
    if len(figure.runs) == 1 or low == high:
        return _number(figure.median)
    return f"{_number(figure.median)} [{_number(low)}-{_number(high)}]"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


def as_dict(obj: Any) -> Any:
    return asdict(obj)


def markdown_from_json(data: dict[str, Any]) -> str:
    """The table of a saved report, as Markdown (for docs/performance.md)."""
    report = Report(mode=data["mode"], sizes=data["sizes"])
    for saved in data["rows"]:
        row = Row(
            saved["workload"],
            saved["metric"],
            saved["unit"],
            higher_is_better=saved["higher_is_better"],
            target=saved["target"],
        )
        row.missedmail.runs = saved["missedmail"]["runs"]
        row.limit.runs = saved["limit"]["runs"]
        row.zulip.runs = saved["zulip_style"]["runs"]
        report.add(row)
    return report.markdown()


if __name__ == "__main__":
    import sys

    print(markdown_from_json(json.loads(Path(sys.argv[1]).read_text())))
