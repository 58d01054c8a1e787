"""The public surface: sorted __all__ that matches what modules export, and cheap imports."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import tcia_sdk
import tcia_sdk.errors


@pytest.mark.parametrize("module", ["tcia_sdk", "tcia_sdk.errors", "tcia_sdk._runtime", "tcia_sdk.v3"])
def test_all_is_sorted_and_every_name_exists(module: str) -> None:
    mod = importlib.import_module(module)
    names = list(mod.__all__)
    assert names == sorted(names)
    for name in names:
        assert getattr(mod, name) is not None


def test_errors_are_reexported_from_the_package() -> None:
    for name in tcia_sdk.errors.__all__:
        assert getattr(tcia_sdk, name) is getattr(tcia_sdk.errors, name)


def test_every_error_derives_from_tcia_error() -> None:
    for name in tcia_sdk.errors.__all__:
        assert issubclass(getattr(tcia_sdk.errors, name), tcia_sdk.TCIAError)


def test_the_exception_tree_is_drawn_in_the_docstring() -> None:
    doc = tcia_sdk.errors.__doc__ or ""
    for name in tcia_sdk.errors.__all__:
        assert name in doc


def test_import_tcia_sdk_loads_no_version_and_no_http_stack() -> None:
    code = (
        "import sys, tcia_sdk; "
        "bad = [m for m in sys.modules if m.startswith(('tcia_sdk.v', 'httpx', 'cattrs'))]; "
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_engine_loads_neither_object_stores_nor_dask_until_asked() -> None:
    code = (
        "import sys, tcia_sdk, tcia_sdk.download, tcia_sdk.nbia_v4; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('obstore', 'boto3', 'distributed', 'dask')]; "
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_version_loads_models_only_on_use() -> None:
    code = """
import sys, httpx, tcia_sdk.v3 as v3
seen = []
client = v3.Client(api_key="k", transport=httpx.MockTransport(lambda r: httpx.Response(200, json=[{}])))
seen.append("tcia_sdk.v3.models" in sys.modules)
seen.append("attrs" in sys.modules)
client.get_series()
seen.append("tcia_sdk.v3.models" in sys.modules)
seen.append("cattrs" in sys.modules)
print(*seen)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # A client starts without models or attrs; the first response that needs a model loads it.
    assert out.stdout.split() == ["False", "False", "True", "False"]


def test_drift_check_passes_on_the_committed_tree() -> None:
    from codegen.files import OUT_DIR, default_specs, drift, load_api, planned_files

    files: dict = {}
    for spec in default_specs():
        files.update(planned_files(load_api(spec), OUT_DIR))
    assert drift(files) == []


def test_drift_check_names_changed_and_stale_files(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    from codegen.cli import main

    assert main(["generate", "--out", str(tmp_path)]) == 0
    models = tmp_path / "v3" / "models.py"
    models.write_text(models.read_text() + "# hand edit\n")
    (tmp_path / "v3" / "extra.py").write_text("")
    assert main(["check", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "v3/models.py: differs from a fresh generation" in err
    assert "v3/extra.py: not produced by the generator (stale)" in err
