"""Each failure the command knows about ends in one clear line on stderr, never a traceback,
through the installed ``tcia`` command; secrets given to it never come back out."""

from __future__ import annotations

import json
import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import respx

from tcia_sdk import __version__
from tcia_sdk._versions import available_versions
from tcia_sdk.cli import main
from tcia_sdk.testing import RunningFake, Status
from tcia_sdk.testing._dataset import default_dataset

from .helpers import against, clean_env, one_error_line, run_installed

SERIES = default_dataset()[0]


def _v3(fake: RunningFake) -> list[str]:
    return ["--api", "v3", "--server", fake.base_url("v3"), "--max-retries", "0"]


def test_missing_api_key_names_the_option_and_the_variable(fake_tcia: RunningFake) -> None:
    ran = run_installed(*_v3(fake_tcia), "get-collection-values")
    assert ran.returncode == 2
    line = one_error_line(ran.stderr)
    assert "--api-key" in line
    assert "TCIA_API_KEY" in line
    assert fake_tcia.count() == 0
    blank = run_installed(*_v3(fake_tcia), "get-collection-values", env=clean_env(TCIA_API_KEY="  \n"))
    assert blank.returncode == 2
    assert "--api-key" in one_error_line(blank.stderr)


def test_api_key_option_and_variable_both_work(fake_tcia: RunningFake) -> None:
    by_option = run_installed(
        *_v3(fake_tcia), "--api-key", fake_tcia.api_key, "get-collection-values", "-o", "json"
    )
    assert by_option.returncode == 0, by_option.stderr
    by_env = run_installed(
        *_v3(fake_tcia), "get-collection-values", "-o", "json", env=clean_env(TCIA_API_KEY=fake_tcia.api_key)
    )
    assert by_env.returncode == 0, by_env.stderr
    assert by_option.stdout == by_env.stdout
    assert all(r.headers.get("api_key") == fake_tcia.api_key for r in fake_tcia.server.requests)


def test_api_key_is_never_echoed_even_when_the_server_echoes_it(fake_tcia: RunningFake) -> None:
    key = fake_tcia.api_key
    body = f'{{"errorMessage": "invalid key {key}"}}'.encode()
    fake_tcia.faults.add(Status(500, body, {"api_key": key}), path="getCollectionValues", times=None)
    ran = run_installed(*_v3(fake_tcia), "--api-key", key, "get-collection-values")
    assert ran.returncode == 1
    line = one_error_line(ran.stderr)
    assert "invalid key" in line
    assert key not in ran.stderr + ran.stdout
    wrong = run_installed(*_v3(fake_tcia), "--api-key", "not-the-key-4711", "get-collection-values")
    assert wrong.returncode == 1
    assert "not-the-key-4711" not in wrong.stderr + wrong.stdout
    one_error_line(wrong.stderr)


def test_api_key_with_a_line_break_works_and_an_unusable_one_is_not_quoted(fake_tcia: RunningFake) -> None:
    pasted = run_installed(*_v3(fake_tcia), "--api-key", fake_tcia.api_key + "\n", "get-collection-values")
    assert pasted.returncode == 0, pasted.stderr  # a key read from a file keeps its line break
    unusable = run_installed(*_v3(fake_tcia), "--api-key", "k\u00e9y-4711", "get-collection-values")
    assert unusable.returncode == 2
    line = one_error_line(unusable.stderr)
    assert "api_key" in line
    assert "4711" not in line


def test_api_key_for_a_version_without_one_is_a_usage_error(fake_tcia: RunningFake) -> None:
    ran = run_installed(*against(fake_tcia, "nbia_v4"), "--api-key", "secret-4711", "get-collection-values")
    assert ran.returncode == 2
    line = one_error_line(ran.stderr)
    assert "takes no API key" in line
    assert "secret-4711" not in line


@pytest.mark.parametrize(
    ("option", "value", "says"),
    [
        ("--timeout", "-3", "--timeout"),
        ("--timeout", "inf", "timeout"),
        ("--max-retries", "-1", "--max-retries"),
    ],
)
def test_bad_timeout_and_retries(fake_tcia: RunningFake, option: str, value: str, says: str) -> None:
    ran = run_installed("--server", fake_tcia.base_url("nbia_v4"), option, value, "get-collection-values")
    assert ran.returncode == 2
    assert says in one_error_line(ran.stderr)
    assert fake_tcia.count() == 0


def test_fake_server_on_a_port_in_use() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ran = run_installed("fake-server", "--port", str(port))
    assert ran.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in one_error_line(ran.stderr)


def test_fake_server_with_an_unknown_version() -> None:
    ran = run_installed("fake-server", "--versions", "v3,v9", "--port", "0")
    assert ran.returncode == 2
    line = one_error_line(ran.stderr)
    assert "v9" in line
    assert "nbia_v4" in line  # says what is available


@pytest.fixture
def read_only_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder nobody may create files in: a chmod 555 one, or (root ignores modes) /sys."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    candidates = [folder, Path("/sys")]
    try:
        for candidate in candidates:
            try:
                with tempfile.TemporaryFile(dir=candidate):
                    pass
            except OSError:
                yield candidate
                return
        pytest.fail("found no folder this user cannot write to")
    finally:
        folder.chmod(0o755)


def test_read_only_destination(fake_tcia: RunningFake, read_only_folder: Path) -> None:
    for dest in (read_only_folder, read_only_folder / "new" / "data"):
        ran = run_installed(
            *against(fake_tcia, "nbia_v4"), "download", "--where", "Collection=TCGA-FAKE", "--dest", str(dest)
        )
        assert ran.returncode == 1
        line = one_error_line(ran.stderr)
        assert line.startswith(f"Error: --dest {dest}: cannot write there")
    assert fake_tcia.count() == 0  # checked before the query and any download


def test_dest_and_to_under_a_folder_that_cannot_exist(fake_tcia: RunningFake, tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    dest = a_file / "sub" / "data"
    ran = run_installed(*against(fake_tcia, "nbia_v4"), "download", SERIES.uid, "--dest", str(dest))
    assert ran.returncode == 1
    assert f"{a_file} is a file, not a folder" in one_error_line(ran.stderr)
    target = tmp_path / "missing" / "one.dcm"
    ran = run_installed(
        *against(fake_tcia, "nbia_v4"),
        "get-single-image",
        "--series-instance-uid",
        SERIES.uid,
        "--sop-instance-uid",
        SERIES.instances[0].sop_instance_uid,
        "--to",
        str(target),
    )
    assert ran.returncode == 1
    assert f"the folder {target.parent} does not exist" in one_error_line(ran.stderr)
    assert fake_tcia.count() == 0


def test_server_option_takes_a_name_or_a_url(fake_tcia: RunningFake) -> None:
    ran = run_installed("--server", "no-such-server", "get-collection-values")
    assert ran.returncode == 2
    line = one_error_line(ran.stderr)
    assert "production" in line
    assert "nlst" in line  # the names it knows
    ran = run_installed("--server", "ftp://example.org", "get-collection-values")
    assert ran.returncode == 2
    one_error_line(ran.stderr)
    ran = run_installed("--server", fake_tcia.base_url("nbia_v4"), "get-collection-values", "-o", "json")
    assert ran.returncode == 0, ran.stderr
    both = run_installed(
        "--server", "nlst", "--base-url", fake_tcia.base_url("nbia_v4"), "get-collection-values"
    )
    assert both.returncode == 2
    assert "not both" in one_error_line(both.stderr)


def test_version_names_the_package_and_every_api() -> None:
    ran = run_installed("--version")
    assert ran.returncode == 0
    lines = ran.stdout.splitlines()
    assert lines[0] == f"tcia {__version__} (tcia_sdk)"
    assert [line.split(":")[0].strip() for line in lines[1:]] == available_versions()


@pytest.mark.parametrize("version", ["nbia_v4", "nbia_v1"])
def test_server_nlst_sends_the_requests_to_the_nlst_host(
    version: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:

    for name in [k for k in os.environ if k.startswith(("TCIA_", "NBIA_"))]:
        monkeypatch.delenv(name)
    segment = version.removeprefix("nbia_")
    nlst = f"https://nlst.cancerimagingarchive.net/nbia-api/services/{segment}/getCollectionValues"
    # respx refuses any request it has no route for: nothing may go to the production host.
    with respx.mock(assert_all_called=True) as router:
        route = router.get(nlst).mock(return_value=httpx.Response(200, json=[{"Collection": "NLST"}]))
        code = main(
            [
                "--api",
                version,
                "--server",
                "nlst",
                "--max-retries",
                "0",
                "get-collection-values",
                "-o",
                "json",
            ]
        )
    out = capsys.readouterr().out
    assert code == 0
    assert route.call_count == 1
    assert route.calls.last.request.url.host == "nlst.cancerimagingarchive.net"
    assert json.loads(out) == ["NLST"]
