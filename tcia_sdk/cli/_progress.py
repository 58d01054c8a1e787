"""What ``tcia download`` shows while it works, and what it knows when it is interrupted.

Two bars, each counting what its label says: series finished (verified, skipped or failed) out of
series requested, and DICOM bytes. The engine's ``Progress`` counts both of its byte figures in
DICOM bytes (the metadata's FileSize units): ``bytes_expected`` the series to fetch, ``bytes_done``
what is verified plus what is in flight, capped per series, so the bar ends at its total. Without
a total (TCIA v3 gives no sizes) the bar shows the count and the rate only.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress as Bars
    from rich.progress import Task, TaskID
    from rich.text import Text

    from ..download import Progress


def human_bytes(count: int) -> str:
    """``1.2 GB``: decimal units, as disk sizes are sold and as TCIA's portal shows them."""
    from rich.filesize import decimal

    return decimal(count)


def _count_column() -> Any:
    from rich.progress import ProgressColumn
    from rich.text import Text

    class CountColumn(ProgressColumn):
        """``3/10 series`` for the series bar, ``12.4 MB/1.2 GB`` for the byte bar."""

        def render(self, task: Task) -> Text:
            if task.fields.get("unit") == "series":
                total = "?" if task.total is None else f"{int(task.total)}"
                return Text(f"{int(task.completed)}/{total} series")
            done = human_bytes(int(task.completed))
            return Text(done if task.total is None else f"{done}/{human_bytes(int(task.total))}")

    return CountColumn()


def _rate_column() -> Any:
    from rich.progress import ProgressColumn
    from rich.text import Text

    class RateColumn(ProgressColumn):
        """The transfer rate on the byte bar only (series per second says little)."""

        def render(self, task: Task) -> Text:
            if task.fields.get("unit") != "bytes" or not task.speed:
                return Text("")
            return Text(f"{human_bytes(int(task.speed))}/s")

    return RateColumn()


class DownloadProgress:
    """The engine's ``progress`` callback: counts always, bars when ``show``."""

    def __init__(self, requested: int, *, show: bool, console: Console | None = None) -> None:
        self.series_done = 0
        self.series_total = requested
        self.bytes_done = 0
        self._show = show
        self._console = console
        self._bars: Bars | None = None
        self._series_task: TaskID | None = None
        self._bytes_task: TaskID | None = None

    def __enter__(self) -> DownloadProgress:
        if self._show:
            from rich.console import Console
            from rich.progress import BarColumn, TextColumn
            from rich.progress import Progress as Bars

            self._bars = Bars(
                TextColumn("{task.description}"),
                BarColumn(),
                _count_column(),
                _rate_column(),
                console=self._console or Console(stderr=True),
            )
            self._bars.start()
            self._series_task = self._bars.add_task("series", total=self.series_total, unit="series")
            self._bytes_task = self._bars.add_task("DICOM", total=None, unit="bytes")
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._bars is not None:
            self._bars.stop()

    @property
    def bars(self) -> Bars | None:
        """The rich bars while they are shown (tests read their tasks)."""
        return self._bars

    def __call__(self, event: Progress) -> None:
        self.series_done = event.series_done
        self.series_total = event.series_total
        self.bytes_done = event.bytes_done
        if self._bars is not None:
            assert self._series_task is not None
            assert self._bytes_task is not None
            self._bars.update(self._series_task, completed=event.series_done, total=event.series_total)
            self._bars.update(self._bytes_task, completed=event.bytes_done, total=event.bytes_expected)

    def note(self, message: str) -> None:
        """One line on stderr, above the bars while they are shown."""
        if self._bars is not None:
            from rich.text import Text

            self._bars.console.print(Text(message))
        else:
            print(message, file=sys.stderr, flush=True)
