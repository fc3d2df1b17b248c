"""The job page's chart of records per run: bar geometry for an inline SVG, computed here (pure),
drawn by ``templates/jobs/_run_chart.html`` — no chart library, no script."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from connectors.models import OUTCOMES, JobRun

WIDTH, HEIGHT, GAP, TOP = 600, 120, 2, 14  # viewBox units; TOP: the peak line's margin
MAX_SLOT = 30  # a bar's room at most: a few runs make a few thin bars at the left, not a wall


@dataclass(frozen=True)
class Bar:
    run_id: int
    x: float
    width: float
    ok_y: float  # the bar's top (all records)
    ok_height: float  # created, updated, unchanged
    problem_y: float
    problem_height: float  # failed and skipped, drawn at the bar's foot
    total: int
    problems: int
    label: str  # the bar's tooltip and accessible text


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    peak: int
    width: int = WIDTH
    height: int = HEIGHT
    top: int = TOP

    @property
    def summary(self) -> str:
        if not self.bars:
            return "No ended runs yet."
        totals = [b.total for b in self.bars]
        return (f"Records per run over the last {len(totals)} ended runs, oldest first: "
                f"from {min(totals):,} to {max(totals):,}, latest {totals[-1]:,}.")


def chart(runs: Iterable[JobRun], status_words) -> Chart:
    """Bars for the ended runs given (newest first, as the page lists them), drawn oldest first."""
    ended = [r for r in runs if r.ended][::-1]
    counts = [{o: int((r.counters or {}).get(o, 0)) for o in OUTCOMES} for r in ended]
    totals = [sum(c.values()) for c in counts]
    peak = max(totals, default=0)
    slot = min(WIDTH / max(len(ended), 1), MAX_SLOT)
    scale = (HEIGHT - TOP) / peak if peak else 0.0
    bars = []
    for i, (run, c, total) in enumerate(zip(ended, counts, totals)):
        problems = c["failed"] + c["skipped"]
        problem_h = problems * scale
        ok_h = (total - problems) * scale
        bars.append(Bar(
            run_id=run.id, x=round(i * slot + GAP / 2, 2), width=round(max(slot - GAP, 1), 2),
            ok_y=round(HEIGHT - problem_h - ok_h, 2), ok_height=round(ok_h, 2),
            problem_y=round(HEIGHT - problem_h, 2), problem_height=round(problem_h, 2),
            total=total, problems=problems,
            label=f"Run #{run.id}: {total:,} records, {problems:,} failed or skipped ({status_words(run.status)})"))
    return Chart(bars, peak)
