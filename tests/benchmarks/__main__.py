"""``python -m tests.benchmarks [NAME ...] [--quick] [--output PATH]``: run, print the table, save it.

Names: decode, csv, dataframe, rss, overhead, download, bulk, codegen, import (default: all, in that
order). The markdown table goes to stdout and, unless ``--quick``, to tests/benchmarks/RESULTS.md
(``--output`` to choose another file; ``--output -`` for none). Progress goes to stderr. A benchmark
that fails is reported as not measured, with the reason (its figures are never made up) and the exit
status is 1; targets not met do not change the exit status.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from . import bulk, codegen, csv_decode, dataframe, decode, download, import_time, memory, overhead
from ._common import Config, Figure, Target, markdown_table, progress

BENCHMARKS: dict[str, Callable[[Config], list[Figure]]] = {
    decode.NAME: decode.run,
    csv_decode.NAME: csv_decode.run,
    dataframe.NAME: dataframe.run,
    memory.NAME: memory.run,
    overhead.NAME: overhead.run,
    download.NAME: download.run,
    bulk.NAME: bulk.run,
    codegen.NAME: codegen.run,
    import_time.NAME: import_time.run,
}
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tests.benchmarks", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help=f"benchmarks to run: {', '.join(BENCHMARKS)}"
    )
    parser.add_argument(
        "--quick", action="store_true", help="fewer repetitions and smaller sizes (smoke run)"
    )
    parser.add_argument(
        "--output", help="where to write the table (default: RESULTS.md unless --quick; '-': nowhere)"
    )
    return parser


def run_one(name: str, config: Config) -> tuple[list[Figure], bool]:
    """The benchmark's figures, and whether it ran to the end."""
    started = time.monotonic()
    progress(f"== {name}")
    try:
        figures, ok = BENCHMARKS[name](config), True
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        reason = f"{type(exc).__name__}: {exc}"[:400]
        figures, ok = [Figure.not_measured(name, "the benchmark failed", Target(None), reason)], False
    progress(f"== {name}: {time.monotonic() - started:.1f} s")
    return figures, ok


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        _parser().error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    config = Config(quick=args.quick)
    names = [n for n in BENCHMARKS if n in args.names] if args.names else list(BENCHMARKS)
    figures: list[Figure] = []
    crashed = False
    for name in names:
        some, ok = run_one(name, config)
        figures.extend(some)
        crashed = crashed or not ok
    table = markdown_table(config, figures)
    sys.stdout.write(table)
    output = args.output if args.output is not None else ("-" if config.quick else str(RESULTS))
    if output != "-":
        Path(output).write_text(table, encoding="utf-8")
        progress(f"wrote {output}")
    return 1 if crashed else 0


if __name__ == "__main__":
    raise SystemExit(main())
