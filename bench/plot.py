"""The plots in docs/performance.md, drawn from a report: throughput and latency.

matplotlib is the optional `bench` dependency group (`make bench` installs it); without it
the benchmark still runs and says that it drew nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

THROUGHPUT_UNITS = ("events/s", "emails/s", "msgs/s")
COLOURS = {"missedmail": "#2a7ab0", "limit": "#9aa5ad", "Zulip-style": "#d9822b"}


def draw(report: dict[str, Any], directory: Path) -> list[Path]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("plot: matplotlib is not installed (pip install -e '.[bench]'); no plots drawn")
        return []
    written = []
    rows = [row for row in report["rows"] if row["unit"] in THROUGHPUT_UNITS]
    if rows:
        fig, ax = plt.subplots(figsize=(10, 0.55 * len(rows) + 1.6))
        labels = [f"{row['workload']}: {row['metric']}\n({row['unit']})" for row in rows]
        height = 0.26
        for offset, (name, key) in enumerate(
            (("missedmail", "missedmail"), ("limit", "limit"), ("Zulip-style", "zulip_style"))
        ):
            values = [row[key]["median"] or 0 for row in rows]
            positions = [n + (offset - 1) * height for n in range(len(rows))]
            bars = ax.barh(positions, values, height, label=name, color=COLOURS[name])
            for bar, value in zip(bars, values, strict=True):
                if value:
                    ax.text(
                        value * 1.05, bar.get_y() + height / 2, f"{value:,.0f}",
                        va="center", fontsize=7,
                    )  # fmt: skip
        ax.set_xscale("log")
        ax.set_yticks(range(len(rows)), labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("throughput (log scale; median of the runs)")
        ax.set_title(
            f"missedmail throughput vs the limit and a Zulip-style worker ({report['mode']})"
        )
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.09), ncol=3, fontsize=8)
        fig.tight_layout()
        path = directory / "throughput.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    samples = report.get("details", {}).get("punctuality_samples_ms")
    if samples:
        fig, ax = plt.subplots(figsize=(8, 4.2))
        for name, key in (("missedmail", "missedmail"), ("limit", "limit"),
                          ("Zulip-style", "zulip_style")):  # fmt: skip
            values = sorted(max(v, 0.1) for v in samples.get(key, []))
            if not values:
                continue
            fraction = [(n + 1) / len(values) for n in range(len(values))]
            ax.step(values, fraction, where="post", label=name, color=COLOURS[name])
        ax.axvline(250, color="#444", linestyle=":", linewidth=1)
        ax.text(260, 0.05, "p99 target 250 ms", fontsize=7)
        ax.set_xscale("log")
        ax.set_xlabel("SMTP accepted - due time (ms, log scale)")
        ax.set_ylabel("fraction of emails")
        ax.set_title("Punctuality: 1 s batching periods under steady load")
        ax.legend(loc="upper left", fontsize=8)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        path = directory / "latency.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written
