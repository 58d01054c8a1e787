"""Generating a package from an inline spec into a temporary directory and importing it."""

from __future__ import annotations

import importlib
import itertools
import sys
from pathlib import Path
from types import ModuleType

from codegen.files import load_api_text, planned_files, write_files

_counter = itertools.count()


def generate_and_import(spec_text: str, tmp_path: Path) -> ModuleType:
    """Generate ``spec_text`` as a uniquely named top-level package and import it."""
    package = f"genpkg_{next(_counter)}"
    text = spec_text.replace("package: mini", f"package: {package}")
    api = load_api_text(text, "inline.yaml")
    write_files(planned_files(api, tmp_path))
    sys.path.insert(0, str(tmp_path))
    try:
        return importlib.import_module(package)
    finally:
        sys.path.remove(str(tmp_path))
