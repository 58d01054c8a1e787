"""Writing generated packages, and comparing them with what is on disk (the drift check)."""

from __future__ import annotations

from pathlib import Path

from .build import build_api
from .diagnostics import SpecError
from .ir import ApiIR
from .loader import MAX_SPEC_CHARS, LoadedSpec, load_spec_text, merge_specs
from .render import render_package
from .schema import check_schema

ROOT = Path(__file__).resolve().parent.parent
SPEC_DIR = ROOT / "spec"
OUT_DIR = ROOT / "tcia_sdk"
MAX_EXTENDS = 16  # bases in a chain of extends; the real specs use one


def spec_label(path: Path) -> str:
    """The spec's path as written into headers: relative to the project, so output is portable."""
    try:
        return path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return path.name


def read_spec(path: Path) -> str:
    """A spec file's text, for the loader to check.

    Bytes that are not UTF-8 are kept as surrogate escapes: the loader reports the first one
    with its line (a strict decode would only raise UnicodeDecodeError). One character more
    than the loader accepts is enough for it to refuse a huge file, so no more is read.
    """
    with path.open(encoding="utf-8", errors="surrogateescape") as spec:
        return spec.read(MAX_SPEC_CHARS + 1)


def load_checked(text: str, label: str, base_dir: Path | None, seen: tuple[str, ...] = ()) -> LoadedSpec:
    """Parse one spec, check it against the schema and resolve ``extends`` (recursively)."""
    loaded = load_spec_text(text, label)
    problems = check_schema(loaded.data, loaded.locator)
    if problems:
        raise SpecError(problems)
    parent = loaded.data.get("extends")
    if parent is None:
        return loaded
    if base_dir is None:
        raise SpecError([loaded.locator.at(("extends",), "extends needs a spec read from a file")])
    try:
        base_path = (base_dir / parent).resolve()
    except ValueError as exc:  # a NUL, which a YAML escape ("\\0") can put in the path
        raise SpecError([loaded.locator.at(("extends",), f"cannot read {parent!r}: {exc}")]) from None
    if str(base_path) in seen:
        raise SpecError([loaded.locator.at(("extends",), f"{parent!r} extends itself (a cycle)")])
    if len(seen) == MAX_EXTENDS:  # each base is loaded recursively
        message = f"{parent!r} is more than {MAX_EXTENDS} extends deep, expected a shorter chain"
        raise SpecError([loaded.locator.at(("extends",), message)])
    try:
        base_text = read_spec(base_path)
    except OSError as exc:
        problem = loaded.locator.at(("extends",), f"cannot read {parent!r}: {exc.strerror}")
        raise SpecError([problem]) from None
    base = load_checked(base_text, spec_label(base_path), base_path.parent, (*seen, str(base_path)))
    merged = merge_specs(base, loaded)
    problems = check_schema(merged.data, merged.locator)  # the whole must be a complete spec
    if problems:
        raise SpecError(problems)
    return merged


def load_api_text(text: str, label: str, base_dir: Path | None = None) -> ApiIR:
    """Load, validate and build one spec's text; SpecError lists every problem found."""
    loaded = load_checked(text, label, base_dir)
    return build_api(loaded.data, loaded.locator, label, loaded.text)


def load_api(path: Path) -> ApiIR:
    return load_api_text(read_spec(path), spec_label(path), path.resolve().parent)


def default_specs() -> list[Path]:
    return sorted(SPEC_DIR.glob("*.yaml"))


def planned_files(api: ApiIR, out_dir: Path) -> dict[Path, str]:
    package = out_dir / api.package
    return {package / name: text for name, text in render_package(api).items()}


def write_files(files: dict[Path, str]) -> list[Path]:
    """Write what changed; remove stale .py files the generator no longer emits."""
    changed: list[Path] = []
    for directory in {p.parent for p in files}:
        directory.mkdir(parents=True, exist_ok=True)
        for existing in directory.glob("*.py"):
            if existing not in files:
                existing.unlink()
                changed.append(existing)
    for path, text in sorted(files.items()):
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8", newline="\n")
            changed.append(path)
    return changed


def drift(files: dict[Path, str]) -> list[tuple[Path, str]]:
    """Files whose committed content differs from a fresh generation, with the reason."""
    out: list[tuple[Path, str]] = []
    for directory in sorted({p.parent for p in files}):
        if directory.is_dir():
            for existing in sorted(directory.glob("*.py")):
                if existing not in files:
                    out.append((existing, "not produced by the generator (stale)"))
    for path, text in sorted(files.items()):
        if not path.exists():
            out.append((path, "missing"))
        elif path.read_text(encoding="utf-8") != text:
            out.append((path, "differs from a fresh generation"))
    return out
