"""The peer: openapi-python-client, generating from our own OpenAPI export of a spec.

It is installed into the running interpreter's environment when missing, and its output goes to
temporary folders only (no generated peer code is kept). Run as a module, this is the generator
driver timed by the codegen benchmark: ``python -m tests.benchmarks._peer OUT_DIR OPENAPI.json ...``
generates one package per document, ``peer_<stem>``, without post hooks (no ruff run).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._common import ROOT, progress
from ._procs import run_python

PACKAGE = "openapi-python-client"
MODULE = "openapi_python_client"


class PeerUnavailable(Exception):
    """The peer could not be installed or could not generate; the message says why."""


def ensure_installed() -> None:
    if importlib.util.find_spec(MODULE) is not None:
        return
    progress(f"installing {PACKAGE} (the peer) into {sys.prefix}")
    try:
        run_python(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", PACKAGE], timeout=600)
    except Exception as exc:
        raise PeerUnavailable(f"pip install {PACKAGE} failed: {exc}") from None
    importlib.invalidate_caches()
    if importlib.util.find_spec(MODULE) is None:
        raise PeerUnavailable(f"{PACKAGE} is still not importable after pip install")


def version() -> str:
    try:
        return importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return "(version unknown)"


def package_name(openapi_file: Path) -> str:
    return "peer_" + openapi_file.stem.replace("-", "_").replace(".", "_")


def export_openapi(spec: Path, out_dir: Path) -> Path:
    """Our OpenAPI 3.1 export of ``spec`` (``python -m codegen openapi``), as ``out_dir/<stem>.json``."""
    target = out_dir / f"{spec.stem}.json"
    run_python(["-m", "codegen", "openapi", str(spec), "-o", str(target)])
    return target


def generate(out_dir: Path, openapi_files: Sequence[Path]) -> float:
    """Generate a peer package per document in one fresh process; its wall time in seconds."""
    ensure_installed()
    args = ["-m", "tests.benchmarks._peer", str(out_dir), *map(str, openapi_files)]
    try:
        elapsed, _ = run_python(args)
    except RuntimeError as exc:
        raise PeerUnavailable(f"{PACKAGE} could not generate: {exc}") from None
    for path in openapi_files:
        if not (out_dir / package_name(path) / "__init__.py").is_file():
            raise PeerUnavailable(f"{PACKAGE} wrote no package for {path.name}")
    return elapsed


def series_model(tmp: Path, spec: str = "tcia-v3") -> tuple[Any, str | None]:
    """The peer's ``Series`` model class of ``spec/<spec>.yaml``, generated under ``tmp``, or None
    and the reason."""
    return model_class(tmp, spec, "Series")


def model_class(tmp: Path, spec: str, name: str) -> tuple[Any, str | None]:
    """The peer's model class ``name`` of ``spec/<spec>.yaml`` generated under ``tmp`` (each spec
    once per folder), or None and the reason."""
    try:
        ensure_installed()
        document = tmp / f"{spec}.json"
        if not (tmp / package_name(document) / "__init__.py").is_file():
            document = export_openapi(ROOT / "spec" / f"{spec}.yaml", tmp)
            generate(tmp, [document])
        sys.path.insert(0, str(tmp))
        try:
            models = importlib.import_module(f"{package_name(document)}.models")
        finally:
            sys.path.remove(str(tmp))
        return getattr(models, name), None
    except PeerUnavailable as exc:
        return None, str(exc)
    except Exception as exc:  # an import or export failure: report it, never a made-up figure
        return None, f"{type(exc).__name__}: {exc}"


def main(argv: Sequence[str]) -> int:
    """Generate ``peer_<stem>`` packages into ``argv[0]`` from the OpenAPI documents that follow."""
    generator: Any = importlib.import_module(MODULE)
    config_module: Any = importlib.import_module(f"{MODULE}.config")
    out_dir = Path(argv[0])
    failed = False
    for document in map(Path, argv[1:]):
        settings = config_module.ConfigFile(post_hooks=[], package_name_override=package_name(document))
        config = config_module.Config.from_sources(
            settings, config_module.MetaType.NONE, document, "utf-8", True, out_dir / package_name(document)
        )
        for error in generator.generate(config=config):
            level = str(getattr(error.level, "name", error.level))
            print(f"{document.name}: {level}: {error.header}", file=sys.stderr)
            failed = failed or level.upper() == "ERROR"
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
