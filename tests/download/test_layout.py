"""Where series go: keywords checked up front, every path under the destination, no two series
in one folder, records as the truth, and a rerun with another layout moving files, not fetching."""

from __future__ import annotations

import json
import logging
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from tcia_sdk import DownloadError, download_series
from tcia_sdk.testing import FakeTCIA, LoopbackServer, Request, Response
from tcia_sdk.testing._dataset import default_dataset
from tcia_sdk.v3 import Client

from .conftest import FAST, outside

DATA = default_dataset()
TCGA = [s for s in DATA if s.row["Collection"] == "TCGA-FAKE"]
CT1, MR1 = TCGA[2], TCGA[3]  # TCGA-FK-0002: a CT and an MR, both series number 1


def records(dest: Path) -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text()) for p in (dest / ".tcia" / "series").glob("*.json")}


def zip_requests(server: LoopbackServer) -> int:
    return server.count("getImage")


# -- template keywords ---------------------------------------------------------------------------
def test_an_unknown_template_keyword_is_refused_before_any_request(
    client: Client, tmp_path: Path, server: LoopbackServer
) -> None:
    with pytest.raises(
        ValueError, match=r"unknown layout keyword %Colection.*did you mean %Collection\?"
    ) as e:
        download_series(client, [TCGA[0].uid], tmp_path, layout="%Colection/%SeriesInstanceUID")
    assert "TCIA REST API v3 series metadata" in str(e.value)
    assert "DICOM keyword known to pydicom" in str(e.value)
    assert server.count() == 0
    assert not (tmp_path / ".tcia").exists()


def test_metadata_fields_and_dicom_keywords_are_allowed(client: Client, tmp_path: Path) -> None:
    # SOPClassUID is in no v3 metadata model: pydicom's dictionary knows it, the header has it.
    report = download_series(client, [TCGA[0].uid], tmp_path, layout="%Collection/%SOPClassUID")
    assert report.ok
    assert report[0].directory == tmp_path / "TCGA-FAKE" / "1.2.840.10008.5.1.4.1.1.4"


# -- every path under the destination -----------------------------------------------------------
def hostile_app(fake: FakeTCIA, row_changes: dict[str, Any]) -> Any:
    """The fake, except that getSeries rows carry ``row_changes`` (a hostile or broken server)."""

    def app(request: Request) -> Response:
        answer = fake(request)
        if request.path.endswith("getSeries") and answer.status == 200 and isinstance(answer.body, bytes):
            rows = [{**row, **row_changes} for row in json.loads(answer.body)]
            return Response(200, json.dumps(rows).encode(), {"Content-Type": "application/json"})
        return answer

    return app


@pytest.mark.parametrize("named", ["/abs/x", "../../x", "1.2.3"])
def test_metadata_naming_another_series_fails_that_series(tmp_path: Path, fake: FakeTCIA, named: str) -> None:
    dest = tmp_path / "dest"
    with LoopbackServer(hostile_app(fake, {"SeriesInstanceUID": named})) as srv:
        with Client(
            api_key="fake-tcia-api-key", base_url=fake.base_url(srv.url, "v3"), retry_policy=FAST
        ) as c:
            report = download_series(c, [TCGA[0].uid, TCGA[1].uid], dest, layout="flat", retries=0)
    assert [r.status for r in report] == ["failed", "failed"]
    assert "names another series" in str(report[0].error)
    assert outside(tmp_path, dest) == []
    assert records(dest) == {}
    assert [p.name for p in dest.iterdir()] == [".tcia", "metadata.csv"] or sorted(
        p.name for p in dest.iterdir()
    ) == [".tcia", "metadata.csv"]


def test_hostile_layout_fields_stay_under_the_destination(tmp_path: Path, fake: FakeTCIA) -> None:
    dest = tmp_path / "dest"
    changes = {"Collection": "../../../escape", "PatientID": "/abs/x", "StudyInstanceUID": ".."}
    with LoopbackServer(hostile_app(fake, changes)) as srv:
        with Client(
            api_key="fake-tcia-api-key", base_url=fake.base_url(srv.url, "v3"), retry_policy=FAST
        ) as c:
            report = download_series(c, [TCGA[0].uid], dest, layout="classic")
    assert report.ok
    folder = report[0].directory
    assert folder is not None
    assert dest in folder.parents
    assert folder.relative_to(dest).parts == ("-..-..-escape", "-abs-x", "NA", TCGA[0].uid)
    assert outside(tmp_path, dest) == []


def test_each_path_building_site_refuses_what_is_not_under_the_destination(tmp_path: Path) -> None:
    from tcia_sdk.download._destination import LocalDestination

    destination = LocalDestination(tmp_path / "dest")
    with destination.locked(wait=False):
        destination.open()
        for uid in ("/abs/x", "../../x", "1.2/../x"):
            with pytest.raises(DownloadError, match="not a DICOM UID"):
                destination.staging(uid)  # the temporary folder of a series
            with pytest.raises(DownloadError, match="not a DICOM UID"):
                destination._record_path(uid)  # its record
            with pytest.raises(DownloadError, match="not a DICOM UID"):
                destination._pending_path(uid)  # its intent
        for folder in ("../x", "/abs/x", "a/../../x", "."):
            with pytest.raises(DownloadError, match="not under"):
                destination.local_path(PurePosixPath(folder))  # layout folders, relocation targets
    assert outside(tmp_path, tmp_path / "dest") == []


def test_a_tampered_record_is_ignored_not_followed(
    client: Client, tmp_path: Path, server: LoopbackServer
) -> None:
    uid = TCGA[0].uid
    dest = tmp_path / "dest"
    download_series(client, [uid], dest, layout="flat")
    path = dest / ".tcia" / "series" / f"{uid}.json"
    record = json.loads(path.read_text())
    path.write_text(json.dumps({**record, "dir": "../../outside"}))
    report = download_series(client, [uid], dest, layout="flat", retries=0)
    # The record did not count: the folder there is then no recorded series' and stays untouched.
    assert report[0].status == "failed"
    assert "is not this series' recorded folder" in str(report[0].error)
    assert outside(tmp_path, dest) == []
    assert all(p.is_file() for p in (dest / uid).iterdir())


# -- collisions ----------------------------------------------------------------------------------
def rows(*series: Any) -> list[dict[str, Any]]:
    return [{**s.row, "StudyDate": str(s.row["StudyDate"])} for s in series]


def test_two_series_in_one_folder_are_kept_apart_in_input_order(
    client: Client, tmp_path: Path, server: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    layout = "%PatientID/%SeriesNumber"
    with caplog.at_level(logging.WARNING, logger="tcia_sdk.download"):
        report = download_series(client, rows(CT1, MR1), tmp_path, layout=layout, workers=2)
    assert report.ok
    assert report[0].directory == tmp_path / "TCGA-FK-0002" / "1"
    assert report[1].directory == tmp_path / "TCGA-FK-0002" / f"1_{MR1.uid}"
    assert [p.read_bytes() for p in report[0].paths] == [i.data for i in CT1.instances]
    assert [p.read_bytes() for p in report[1].paths] == [i.data for i in MR1.instances]
    assert report[1].note is not None
    assert CT1.uid in report[1].note
    assert any(MR1.uid in r.message and "belongs to series" in r.message for r in caplog.records)
    # Stable: a rerun finds both where they are; nothing flips.
    again = download_series(client, rows(CT1, MR1), tmp_path, layout=layout)
    assert [r.status for r in again] == ["skipped", "skipped"]
    assert [r.directory for r in again] == [r.directory for r in report]
    # Reversed input order: the recorded series keep their folders.
    reverse = download_series(client, rows(MR1, CT1), tmp_path, layout=layout)
    assert [r.directory for r in reverse] == [report[1].directory, report[0].directory]


def test_a_recorded_series_keeps_its_folder(client: Client, tmp_path: Path, server: LoopbackServer) -> None:
    layout = "%PatientID/%SeriesNumber"
    first = download_series(client, rows(MR1), tmp_path, layout=layout)
    assert first[0].directory == tmp_path / "TCGA-FK-0002" / "1"
    second = download_series(client, rows(CT1, MR1), tmp_path, layout=layout)
    assert [r.status for r in second] == ["downloaded", "skipped"]
    assert second[0].directory == tmp_path / "TCGA-FK-0002" / f"1_{CT1.uid}"
    assert second[1].directory == first[0].directory
    assert [p.read_bytes() for p in second[1].paths] == [i.data for i in MR1.instances]


def test_a_folder_holding_another_series_clashes_too(client: Client, tmp_path: Path) -> None:
    a, b = TCGA[0], TCGA[1]  # one patient
    download_series(client, rows(a), tmp_path, layout="classic")
    report = download_series(client, rows(b), tmp_path, layout="%Collection/%PatientID")
    # TCGA-FAKE/TCGA-FK-0001 holds a's classic folder: b must not go there (nor replace it).
    assert report[0].directory == tmp_path / "TCGA-FAKE" / f"TCGA-FK-0001_{b.uid}"
    assert all(p.is_file() for p in download_series(client, rows(a), tmp_path, layout="classic").paths)


def test_an_unrecorded_folder_is_never_replaced(
    client: Client, tmp_path: Path, server: LoopbackServer
) -> None:
    uid = TCGA[0].uid
    mine = tmp_path / uid
    mine.mkdir()
    (mine / "notes.txt").write_text("my own work")
    report = download_series(client, [uid], tmp_path, layout="flat", retries=0)
    assert report[0].status == "failed"
    assert "already exists and is not this series' recorded folder" in str(report[0].error)
    assert (mine / "notes.txt").read_text() == "my own work"
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]


def test_force_replaces_only_the_series_own_folder(
    client: Client, tmp_path: Path, server: LoopbackServer
) -> None:
    uid = TCGA[0].uid
    first = download_series(client, [uid], tmp_path, layout="flat")
    again = download_series(client, [uid], tmp_path, layout="flat", force=True)
    assert again[0].status == "downloaded"
    assert again[0].directory == first[0].directory
    assert [p.read_bytes() for p in again[0].paths] == [i.data for i in TCGA[0].instances]


# -- records and relayout ------------------------------------------------------------------------
def test_the_record_says_layout_folder_files_and_route(client: Client, tmp_path: Path) -> None:
    report = download_series(client, [TCGA[0].uid], tmp_path, layout="classic")
    record = records(tmp_path)[TCGA[0].uid]
    assert record["layout"] == "classic"
    assert record["dir"] == report[0].directory.relative_to(tmp_path).as_posix()  # type: ignore[union-attr]
    assert record["files"] == [p.name for p in report[0].paths]
    assert record["zip_route"] == "getImage"
    assert not (tmp_path / ".tcia" / "journal.jsonl").exists()


def test_a_rerun_with_another_layout_moves_files_without_fetching(
    client: Client, tmp_path: Path, server: LoopbackServer
) -> None:
    uids = [s.uid for s in TCGA]
    first = download_series(client, uids, tmp_path, layout="classic")
    content = {r.series_instance_uid: [p.read_bytes() for p in r.paths] for r in first}
    before = server.counts()
    second = download_series(client, uids, tmp_path, layout="flat")
    assert server.counts() == before  # nothing fetched: not the zips, not the metadata
    assert [r.status for r in second] == ["skipped"] * len(uids)
    for r, old in zip(second, first, strict=True):
        assert r.directory == tmp_path / r.series_instance_uid
        assert r.moved_from == old.directory
        assert [p.read_bytes() for p in r.paths] == content[r.series_instance_uid]
        assert records(tmp_path)[r.series_instance_uid]["layout"] == "flat"
    assert not (tmp_path / "TCGA-FAKE").exists()  # the old, emptied folders are gone
    csv_text = (tmp_path / "metadata.csv").read_text()
    assert all(f"./{uid}" in csv_text for uid in uids)
    third = download_series(client, uids, tmp_path, layout="flat")
    assert all(r.moved_from is None and r.status == "skipped" for r in third)


def test_a_relayout_that_cannot_move_says_why(client: Client, tmp_path: Path, server: LoopbackServer) -> None:
    uid = TCGA[0].uid
    first = download_series(client, [uid], tmp_path, layout="classic")
    (tmp_path / uid).write_text("a file where the flat folder goes")
    second = download_series(client, [uid], tmp_path, layout="flat")
    assert second[0].status == "skipped"
    assert second[0].directory == first[0].directory  # kept where it is, and said so
    assert second[0].note is not None
    assert "kept in" in second[0].note
    assert all(p.is_file() for p in second[0].paths)
    assert server.count("getImage") == 1


def test_an_old_destination_with_only_a_journal_is_read(
    client: Client, tmp_path: Path, server: LoopbackServer
) -> None:
    uids = [s.uid for s in TCGA[:2]]
    download_series(client, uids, tmp_path, layout="classic")
    # As an older version left it: journal.jsonl lines, no layout in them, no records.
    state = tmp_path / ".tcia"
    lines = []
    for path in sorted((state / "series").glob("*.json")):
        entry = json.loads(path.read_text())
        entry.pop("layout")
        lines.append(json.dumps(entry))
        path.unlink()
    (state / "journal.jsonl").write_text("\n".join(lines) + "\n{torn")
    before = server.count("getImage")
    report = download_series(client, uids, tmp_path, layout="classic")
    assert [r.status for r in report] == ["skipped", "skipped"]
    assert server.count("getImage") == before
    assert sorted(records(tmp_path)) == sorted(uids)  # migrated into records


def test_a_relayout_follows_the_collision_rule(
    client: Client, tmp_path: Path, server: LoopbackServer
) -> None:
    first = download_series(client, rows(CT1, MR1), tmp_path, layout="classic")
    before = server.count("getImage")
    second = download_series(client, rows(CT1, MR1), tmp_path, layout="%PatientID/%SeriesNumber")
    assert server.count("getImage") == before
    assert [r.directory for r in second] == [
        tmp_path / "TCGA-FK-0002" / "1",
        tmp_path / "TCGA-FK-0002" / f"1_{MR1.uid}",
    ]
    assert [r.moved_from for r in second] == [r.directory for r in first]
    assert second[1].note is not None
    assert CT1.uid in second[1].note
    assert [p.read_bytes() for p in second[1].paths] == [i.data for i in MR1.instances]


def test_a_commit_cut_short_is_rolled_back_by_the_next_run(
    client: Client, tmp_path: Path, server: LoopbackServer
) -> None:
    uid = TCGA[0].uid
    download_series(client, [uid], tmp_path, layout="flat")
    # As a run killed between moving the files into place and writing the record leaves it.
    state = tmp_path / ".tcia"
    record = json.loads((state / "series" / f"{uid}.json").read_text())
    (state / "series" / f"{uid}.json").unlink()
    (state / "pending" / f"{uid}.json").write_text(
        json.dumps({"uid": uid, "dir": uid, "files": record["files"], "from": None, "commit": "x"})
    )
    report = download_series(client, [uid], tmp_path, layout="flat")
    assert report[0].status == "downloaded"  # the orphan folder was recognised as ours and redone
    assert list((state / "pending").iterdir()) == []
    assert [p.read_bytes() for p in report[0].paths] == [i.data for i in TCGA[0].instances]


def _localizers() -> tuple[Any, Any]:
    """Two Localizer series of one study, both series number 1, whose UIDs end alike (as real
    scanners' do): the descriptive layout names both ``1-Localizer-<last 5 of the UID>``."""
    import attrs

    a, b = TCGA[0], TCGA[1]  # one patient, one study
    study = a.row["StudyInstanceUID"]
    out = []
    for series, uid in ((a, f"{study}.7.12345"), (b, f"{study}.8.12345")):
        row = {**series.row, "SeriesInstanceUID": uid, "SeriesDescription": "Localizer", "SeriesNumber": 1}
        out.append(attrs.evolve(series, uid=uid, row=row))
    return out[0], out[1]


@pytest.mark.parametrize("layout", ["descriptive", "classic"])
def test_repeated_localizer_descriptions_never_replace_one_another(tmp_path: Path, layout: str) -> None:
    first, second = _localizers()
    fake = FakeTCIA(["v3"], dataset=(first, second))
    with LoopbackServer(fake) as srv:
        with Client(
            api_key="fake-tcia-api-key", base_url=fake.base_url(srv.url, "v3"), retry_policy=FAST
        ) as c:
            report = download_series(c, [first.uid, second.uid], tmp_path, layout=layout, workers=2)
            again = download_series(c, [second.uid, first.uid], tmp_path, layout=layout)
            zips = srv.count("getImage")
    assert report.ok
    one, two = report[0].directory, report[1].directory
    assert one is not None
    assert two is not None
    assert one != two
    assert one not in two.parents
    assert two not in one.parents
    if layout == "descriptive":
        assert one.name == "1-Localizer-12345"
        assert two.name == f"1-Localizer-12345_{second.uid}"  # the documented, stable suffix
        assert one.parent == two.parent
    assert [p.read_bytes() for p in report[0].paths] == [i.data for i in first.instances]
    assert [p.read_bytes() for p in report[1].paths] == [i.data for i in second.instances]
    # A rerun (in the other order) skips both where they are: nothing flips, nothing is fetched.
    assert [r.status for r in again] == ["skipped", "skipped"]
    assert [r.directory for r in again] == [two, one]
    assert zips == 2
