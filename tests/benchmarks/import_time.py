"""import: starting a process that imports the SDK and builds a client, against ``import httpx``.

Each pair runs both in fresh interpreters (``python -c``), taking turns at going first; the figure
is the wall time of the SDK process over the httpx process (interpreter start-up is in both).
"""

from __future__ import annotations

import statistics

from ._common import Config, Figure, Target, progress, rotated
from ._procs import run_python

NAME = "import"
TARGET = Target("<=", 1.3)
SDK = 'import tcia_sdk; from tcia_sdk.v3 import Client; Client(api_key="x")'
HTTPX = "import httpx"


def run(config: Config) -> list[Figure]:
    pairs = config.pick(15, 5)
    programs = {"sdk": SDK, "httpx": HTTPX}
    for program in programs.values():
        run_python(["-c", program])  # warm the bytecode caches
    times: dict[str, list[float]] = {name: [] for name in programs}
    for rep in range(pairs):
        for name in rotated(list(programs), rep):
            times[name].append(run_python(["-c", programs[name]])[0])
    ratios = tuple(s / h for s, h in zip(times["sdk"], times["httpx"], strict=True))
    note = (
        f"median seconds: SDK {statistics.median(times['sdk']):.3f}, "
        f"httpx {statistics.median(times['httpx']):.3f}"
    )
    progress(f"import: {note}")
    return [
        Figure(
            "import",
            f"fresh process `{SDK}` ÷ fresh process `{HTTPX}`",
            ratios,
            TARGET,
            notes=(note,),
        )
    ]
