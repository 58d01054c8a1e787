"""``python -m codegen generate|check|validate [SPEC ...]``, ``diff OLD NEW``, ``openapi SPEC``."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from .diagnostics import SpecError
from .files import OUT_DIR, default_specs, drift, load_api, planned_files, write_files


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m codegen", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("generate", "write tcia_sdk/<package>/ for each spec"),
        ("check", "exit 1 and name the files when committed output differs from a fresh generation"),
        ("validate", "report every problem of each spec (file:line: yaml.path: message)"),
    ):
        cmd = sub.add_parser(name, help=help_text)
        cmd.add_argument("specs", nargs="*", type=Path, help="spec files (default: spec/*.yaml)")
        if name != "validate":
            cmd.add_argument("--out", type=Path, default=OUT_DIR, help="output root (default: tcia_sdk/)")
    for name, help_text in DELEGATED_HELP.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


# Commands with their own argument parsing, in their own modules.
DELEGATED = {"diff": "codegen.diff", "openapi": "codegen.openapi"}
DELEGATED_HELP = {
    "diff": "OLD.yaml NEW.yaml [--markdown OUT.md]: list changes; exit 1 when any is breaking",
    "openapi": "SPEC.yaml [-o OUT.json]: write the spec as an OpenAPI 3.1 document",
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in DELEGATED:
        command: int = importlib.import_module(DELEGATED[argv[0]]).run(argv[1:])
        return command
    args = _parser().parse_args(argv)
    specs: list[Path] = args.specs or default_specs()
    failed = False
    all_files = {}
    for spec in specs:
        try:
            api = load_api(spec)
        except SpecError as exc:
            failed = True
            print(exc, file=sys.stderr)
            continue
        except OSError as exc:
            failed = True
            print(f"{spec}: cannot read the spec: {exc.strerror}", file=sys.stderr)
            continue
        if args.command == "validate":
            print(f"{spec}: ok ({len(api.endpoints)} endpoints, {len(api.models)} models)")
            continue
        all_files.update(planned_files(api, args.out))
    if failed:
        return 2
    if args.command == "generate":
        for path in write_files(all_files):
            print(f"wrote {path}")
    elif args.command == "check":
        problems = drift(all_files)
        for path, reason in problems:
            print(f"{path}: {reason}", file=sys.stderr)
        if problems:
            print("generated code drifted from the specs: run `make generate`", file=sys.stderr)
            return 1
        print(f"generated code matches {len(specs)} spec(s)")
    return 0
