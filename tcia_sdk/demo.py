"""The 2014 walkthrough, today: ``python -m tcia_sdk.demo`` (``make demo``).

For TCIA v3 and NBIA v4: modalities and body parts as tables; the patients, studies and series of
one collection; one series downloaded and verified; one of its files opened with pydicom; the paths.

Offline by default: it starts the embedded fake TCIA on loopback. With ``TCIA_BASE_URL`` set (an
NBIA v4 base URL such as https://nbia.cancerimagingarchive.net/nbia-api/services/v4) it runs against
that server instead; v3 then runs only if ``TCIA_V3_BASE_URL`` (and ``TCIA_API_KEY``) are set, since
TCIA retired the v3 server. ``TCIA_DEMO_COLLECTION`` picks the collection, ``TCIA_DEMO_DEST`` the folder.
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from . import download_series, to_dataframe
from ._versions import load_version


def _show(title: str, rows: list[Any], column: str | None = None, limit: int = 8) -> None:
    frame = to_dataframe(rows, column=column or "value")
    frame = frame.dropna(axis="columns", how="all")
    print(f"\n{title} ({len(frame)} rows)")
    if len(frame.columns) > 6:
        frame = frame[frame.columns[:6]]
    print(frame.head(limit).to_string(index=False) if len(frame) else "(none)")


def walkthrough(version: str, base_url: str, dest: Path, api_key: str | None) -> None:
    module = load_version(version)
    options: dict[str, Any] = {"base_url": base_url}
    if module.API.auth.kind == "api_key":
        options["api_key"] = api_key
    print(f"\n=== {module.API.name} at {base_url} ===")
    with module.Client(**options) as tcia:
        _show("Modalities", tcia.get_modality_values(), "Modality")
        _show("Body parts", tcia.get_body_part_values(), "BodyPartExamined")
        collections = tcia.get_collection_values()
        collection = os.environ.get("TCIA_DEMO_COLLECTION") or collections[0]
        print(f"\n{len(collections)} collections; using {collection!r}")
        _show(f"Patients of {collection}", tcia.get_patient(collection=collection))
        _show(f"Studies of {collection}", tcia.get_patient_study(collection=collection))
        series = tcia.get_series(collection=collection)
        _show(f"Series of {collection}", series)
        if not series:
            raise SystemExit(f"{collection} has no series")
        smallest = min(series, key=lambda s: s.image_count or 0)
        started = time.monotonic()
        report = download_series(tcia, [smallest], dest, layout="classic", force=True)
    result = report[0]
    if result.status != "downloaded":
        raise SystemExit(f"download failed: {result.error}")
    record = dest / ".tcia" / "series" / f"{result.series_instance_uid}.json"
    print(
        f"\nDownloaded and verified {result.series_instance_uid}: {result.instances} instances, "
        f"{result.dicom_bytes:,} DICOM bytes in {time.monotonic() - started:.2f}s (record: {record})"
    )
    import pydicom

    dataset = pydicom.dcmread(result.paths[0])
    print(
        f"pydicom: {result.paths[0].name}: PatientID={dataset.PatientID} Modality={dataset.Modality} "
        f"SOPInstanceUID={dataset.SOPInstanceUID} {dataset.Rows}x{dataset.Columns} pixels"
    )
    print("Files:")
    for path in result.paths:
        print(f"  {path}")


def main() -> int:
    dest = Path(os.environ.get("TCIA_DEMO_DEST", "demo-data"))
    real = os.environ.get("TCIA_BASE_URL")
    with ExitStack() as stack:
        if real:
            targets = [("nbia_v4", real)]
            if os.environ.get("TCIA_V3_BASE_URL"):
                targets.insert(0, ("v3", os.environ["TCIA_V3_BASE_URL"]))
            else:
                print("TCIA v3 is retired: skipping it (set TCIA_V3_BASE_URL to run it too)")
            api_key = os.environ.get("TCIA_API_KEY")
        else:
            from .testing import fake_tcia_server

            running = stack.enter_context(fake_tcia_server(["v3", "nbia_v4"]))
            print(f"Embedded fake TCIA serving on {running.url} (set TCIA_BASE_URL for the real one)")
            targets = [("v3", running.base_url("v3")), ("nbia_v4", running.base_url("nbia_v4"))]
            api_key = running.api_key
        for version, base_url in targets:
            walkthrough(version, base_url, dest / version, api_key)
    print("\ndemo finished")
    return 0


if __name__ == "__main__":
    sys.exit(main())
