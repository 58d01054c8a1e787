"""What every benchmark shares: the run's settings, figures with targets, timing and the table."""

from __future__ import annotations

import datetime as dt
import gc
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeVar

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


@dataclass(frozen=True)
class Config:
    """Settings of one run: ``quick`` means fewer repetitions and smaller sizes (a smoke run)."""

    quick: bool = False

    def pick(self, full: T, quick: T) -> T:
        return quick if self.quick else full


@dataclass(frozen=True)
class Target:
    """A bound the median must satisfy; ``op`` None: an informational figure without a target."""

    op: Literal["<=", ">=", "<"] | None
    value: float = 0.0
    text: str = ""

    def met(self, median: float) -> bool | None:
        if self.op is None:
            return None
        if self.op == "<=":
            return median <= self.value
        if self.op == ">=":
            return median >= self.value
        return median < self.value

    def label(self) -> str:
        if self.op is None:
            return "none (informational)"
        return self.text or f"{self.op} {self.value:g}"


@dataclass(frozen=True)
class Figure:
    """One row of the table: a figure per repetition, or the reason it could not be measured."""

    name: str
    what: str
    values: tuple[float, ...]
    target: Target
    unit: Literal["ratio", "s", "MB"] = "ratio"
    reason: str | None = None
    notes: tuple[str, ...] = field(default=())

    @classmethod
    def not_measured(cls, name: str, what: str, target: Target, reason: str) -> Figure:
        return cls(name, what, (), target, reason=reason)

    @property
    def measured(self) -> bool:
        return bool(self.values) and self.reason is None

    def _fmt(self, value: float) -> str:
        if self.unit == "s":
            return f"{value:.3f} s"
        if self.unit == "MB":
            return f"{value:+.1f} MB"
        return f"{value:.3f}"

    def cells(self) -> list[str]:
        if not self.measured:
            reason = (self.reason or "no repetitions").replace("|", "/").replace("\n", " ")
            return [self.name, self.what, f"not measured: {reason}", "-", "-", self.target.label(), "-"]
        median = statistics.median(self.values)
        met = self.target.met(median)
        return [
            self.name,
            f"{self.what} ({len(self.values)} reps)",
            self._fmt(median),
            self._fmt(min(self.values)),
            self._fmt(max(self.values)),
            self.target.label(),
            "n/a" if met is None else ("yes" if met else "no"),
        ]


def timed(fn: Callable[[], T], *, pause_gc: bool = False) -> tuple[float, T]:
    """Seconds one call takes, collected garbage first; the result outlives the timer (its
    deallocation is not timed). ``pause_gc``: the cyclic GC is off during the call (every
    contender of a comparison gets the same setting)."""
    gc.collect()
    if pause_gc:
        gc.disable()
    try:
        started = time.perf_counter()
        result = fn()
        elapsed = time.perf_counter() - started
    finally:
        if pause_gc:
            gc.enable()
    return elapsed, result


def rotated(items: Sequence[T], rep: int) -> list[T]:
    """``items`` started at ``rep`` (mod len): interleaved runs take turns at going first."""
    k = rep % len(items)
    return [*items[k:], *items[:k]]


def medians(times: Mapping[str, Sequence[float]]) -> str:
    """``name 0.123 s, ...``: the median seconds of each series of timings."""
    return ", ".join(f"{name} {statistics.median(values):.3f} s" for name, values in times.items() if values)


def latest(times: Mapping[str, Sequence[float]]) -> str:
    """``name 0.123 s, ...``: the last timing of each series (progress lines)."""
    return ", ".join(f"{name} {values[-1]:.3f} s" for name, values in times.items() if values)


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return platform.processor() or "unknown CPU"
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Model", "cpu model") and value.strip():
            return value.strip()
    return platform.processor() or "unknown CPU"


def machine_line(config: Config) -> str:
    cores = os.cpu_count() or 0
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    kind = "quick run (--quick: fewer repetitions, smaller sizes)" if config.quick else "full run"
    return (
        f"Machine: {cpu_model()}, {cores} cores, Python {platform.python_version()} "
        f"({platform.python_implementation()}), {now}, {kind}"
    )


HEADER = ["benchmark", "what is measured", "median", "min", "max", "target", "met"]


def markdown_table(config: Config, figures: Sequence[Figure]) -> str:
    lines = [
        machine_line(config),
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "|".join("---" for _ in HEADER) + "|",
    ]
    lines.extend("| " + " | ".join(figure.cells()) + " |" for figure in figures)
    notes = [f"* {figure.name}: {note}" for figure in figures for note in figure.notes]
    if notes:
        lines.extend(["", *notes])
    return "\n".join(lines) + "\n"
