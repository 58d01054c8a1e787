"""codegen: regenerating every spec in a fresh process, and the peer generating the same APIs.

Ours: ``codegen.files.load_api`` + ``codegen.render.render_package`` for every spec/*.yaml, in one
fresh interpreter, imports included (the wall time of the whole process). Peer: openapi-python-client
generating a package from our OpenAPI export of each spec, in one fresh interpreter as well (its
post hooks, which run ruff, turned off; it writes files, ours only renders them). The OpenAPI
exports are made once, untimed. The two alternate, taking turns at going first.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from . import _peer
from ._common import ROOT, Config, Figure, Target, latest, medians, progress, rotated
from ._procs import run_python

NAME = "codegen"
TARGET_ABSOLUTE = Target("<=", 1.0, "<= 1 s")
TARGET_PEER = Target(None)

OURS = """
from codegen.files import default_specs, load_api
from codegen.render import render_package
files = sum(len(render_package(load_api(spec))) for spec in default_specs())
print(files)
"""


def specs() -> list[Path]:
    return sorted((ROOT / "spec").glob("*.yaml"))


def ours() -> float:
    elapsed, out = run_python(["-c", OURS])
    if int(out.strip() or 0) < len(specs()):
        raise RuntimeError(f"the generator rendered too few files: {out.strip()!r}")
    return elapsed


def run(config: Config) -> list[Figure]:
    reps = config.pick(5, 2)
    n = len(specs())
    what = f"fresh process: load_api + render_package of all {n} spec/*.yaml, imports included"
    what_peer = (
        f"the same APIs, ours ÷ openapi-python-client from our OpenAPI exports ({n} packages, fresh process)"
    )
    with tempfile.TemporaryDirectory(prefix="tcia-bench-codegen-") as tmp:
        folder = Path(tmp)
        documents: list[Path] = []
        reason: str | None = None
        try:
            _peer.ensure_installed()
            documents = [_peer.export_openapi(spec, folder) for spec in specs()]
        except Exception as exc:
            reason = str(exc)

        def peer() -> float:
            out = folder / "out"
            try:
                return _peer.generate(out, documents)
            finally:
                shutil.rmtree(out, ignore_errors=True)

        runners: dict[str, Callable[[], float]] = {"ours": ours}
        if reason is None:
            try:
                peer()  # warm-up (and a check that the peer generates at all)
                runners["peer"] = peer
            except _peer.PeerUnavailable as exc:
                reason = str(exc)
        ours()  # warm the bytecode caches
        times: dict[str, list[float]] = {name: [] for name in runners}
        for rep in range(reps):
            for name in rotated(list(runners), rep):
                times[name].append(runners[name]())
            progress(f"codegen: repetition {rep + 1}/{reps}: {latest(times)}")
    figures = [Figure("codegen all specs", what, tuple(times["ours"]), TARGET_ABSOLUTE, unit="s")]
    if "peer" in times:
        ratios = tuple(o / p for o, p in zip(times["ours"], times["peer"], strict=True))
        note = f"median seconds: {medians(times)}; peer: {_peer.PACKAGE} {_peer.version()}, no post hooks"
        figures.append(Figure("codegen vs peer", what_peer, ratios, TARGET_PEER, notes=(note,)))
    else:
        figures.append(Figure.not_measured("codegen vs peer", what_peer, TARGET_PEER, reason or "unknown"))
    return figures
