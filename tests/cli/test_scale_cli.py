"""``tcia download`` past one machine, through the installed command: an object-store destination
(a real S3 API on loopback, moto's server) and a Dask LocalCluster of worker processes."""

from __future__ import annotations

from pathlib import Path

from tcia_sdk.testing import RunningFake
from tcia_sdk.testing._dataset import default_dataset
from tests._s3 import SECRET_KEY, MotoServer

from .helpers import against, one_error_line, run_installed

TCGA = [s for s in default_dataset() if s.row["Collection"] == "TCGA-FAKE"]


def test_download_into_s3_then_a_rerun_skips_everything(
    fake_tcia: RunningFake, moto: MotoServer, bucket: str, tmp_path: Path
) -> None:
    dest = f"s3://{bucket}/mirror"
    args = [*against(fake_tcia, "nbia_v4"), "download", "--where", "Collection=TCGA-FAKE", "--dest", dest]
    first = run_installed(*args, "--staging-dir", str(tmp_path / "staging"))
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith(f"{len(TCGA)} downloaded, 0 skipped, 0 failed; into {dest}")
    keys = moto.keys(bucket, "mirror/")
    assert len([k for k in keys if "/.tcia/series/" in k]) == len(TCGA)
    assert "mirror/metadata.csv" in keys
    assert not list((tmp_path / "staging").rglob("*.dcm"))  # the run's staging is gone
    again = run_installed(*args)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith(f"0 downloaded, {len(TCGA)} skipped")
    assert SECRET_KEY not in first.stdout + first.stderr + again.stdout + again.stderr


def test_a_store_that_refuses_is_one_line_without_credentials(
    fake_tcia: RunningFake, moto: MotoServer
) -> None:
    ran = run_installed(
        *against(fake_tcia, "nbia_v4"), "download", TCGA[0].uid, "--dest", "s3://no-such-bucket-cli/p"
    )
    assert ran.returncode == 1
    line = one_error_line(ran.stderr)
    assert "no-such-bucket-cli" in line
    assert SECRET_KEY not in line
    assert fake_tcia.count("getImage") == 0


def test_download_on_a_local_dask_cluster(fake_tcia: RunningFake, moto: MotoServer, tmp_path: Path) -> None:
    ran = run_installed(
        *against(fake_tcia, "nbia_v4"),
        "download",
        "--where",
        "Collection=TCGA-FAKE",
        "--dest",
        str(tmp_path),
        "--dask",
        "local:2",
        "--workers",
        "2",
        "--cluster-max-requests",
        "2",
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith(f"{len(TCGA)} downloaded, 0 skipped, 0 failed")
    assert len(list((tmp_path / ".tcia" / "series").glob("*.json"))) == len(TCGA)
    assert (tmp_path / "metadata.csv").read_text().count("\n") == 1 + len(TCGA)


def test_scale_options_misused_are_usage_errors(fake_tcia: RunningFake, tmp_path: Path) -> None:
    cases = [
        (["--dest", "ftp://host/dir"], "unknown URL scheme"),
        (["--dest", str(tmp_path), "--endpoint-url", "http://127.0.0.1:9"], "object-store destinations"),
        (["--dest", str(tmp_path), "--dask", "local:zero"], "local:N"),
    ]
    for extra, said in cases:
        ran = run_installed(*against(fake_tcia, "nbia_v4"), "download", TCGA[0].uid, *extra)
        assert ran.returncode == 2, (extra, ran.stderr)
        assert said in ran.stderr
        assert "Traceback" not in ran.stderr
    assert fake_tcia.count() == 0
