"""import: starting a process that imports the SDK and builds a client, against ``import httpx``.

Each round runs the three programs in fresh interpreters (``python -c``), taking turns at going
first; a figure is the wall time of an SDK process over the httpx process of the same round
(interpreter start-up is in both). The live API's package, NBIA v4, is the target; v3 is shown too.

The project is compiled to bytecode first (``compileall``), as ``pip install`` does: with
``PYTHONDONTWRITEBYTECODE`` set (as in some shells and CI images) an editable checkout would
otherwise be compiled from source in every process, while httpx, installed, never is.
"""

from __future__ import annotations

import statistics

from ._common import ROOT, Config, Figure, Target, progress, rotated
from ._procs import run_python

NAME = "import"
TARGET = Target("<=", 1.3)
SDK_V4 = "import tcia_sdk.nbia_v4; tcia_sdk.nbia_v4.Client()"
SDK_V3 = 'import tcia_sdk; from tcia_sdk.v3 import Client; Client(api_key="x")'
HTTPX = "import httpx"


def run(config: Config) -> list[Figure]:
    pairs = config.pick(15, 5)
    programs = {"nbia_v4": SDK_V4, "v3": SDK_V3, "httpx": HTTPX}
    run_python(["-m", "compileall", "-q", str(ROOT / "tcia_sdk")])
    for program in programs.values():
        run_python(["-c", program])  # warm the file cache
    times: dict[str, list[float]] = {name: [] for name in programs}
    for rep in range(pairs):
        for name in rotated(list(programs), rep):
            times[name].append(run_python(["-c", programs[name]])[0])
    note = "median seconds: " + ", ".join(f"{k} {statistics.median(v):.3f}" for k, v in times.items())
    progress(f"import: {note}")
    figures = []
    for name, label in (("nbia_v4", "import nbia_v4"), ("v3", "import v3")):
        ratios = tuple(s / h for s, h in zip(times[name], times["httpx"], strict=True))
        what = f"fresh process `{programs[name]}` ÷ fresh process `{HTTPX}`, bytecode compiled"
        figures.append(Figure(label, what, ratios, TARGET, notes=(note,) if name == "nbia_v4" else ()))
    return figures
