"""A user's script, checked by mypy --strict (make test): the public types must carry through."""

from __future__ import annotations

import datetime
from pathlib import Path

from tcia_sdk import APIStatusError, RawResponse, TCIAError
from tcia_sdk.v3 import AsyncClient, Client, Series


def modalities(tcia: Client) -> list[str]:
    return tcia.get_modality_values()


def series_uids(tcia: Client) -> list[str]:
    rows: list[Series] = tcia.get_series(collection="TCGA-GBM", modality="MR")
    return [s.series_instance_uid for s in rows if s.series_instance_uid is not None]


def as_csv(tcia: Client) -> str:
    return tcia.get_series(collection="TCGA-GBM", format="csv")


def new_patients(tcia: Client) -> list[str | None]:
    return [
        p.patient_id
        for p in tcia.new_patients_in_collection(collection="TCGA-BRCA", date=datetime.date(2014, 1, 1))
    ]


def size(tcia: Client, uid: str) -> int | None:
    return tcia.get_series_size(series_instance_uid=uid).total_size_in_bytes


def download(tcia: Client, uid: str) -> Path | None:
    return tcia.get_image(series_instance_uid=uid, to=Path("out.zip")).path


def one_instance(tcia: Client, series: str, sop: str) -> bytes:
    return tcia.get_single_image(series_instance_uid=series, sop_instance_uid=sop)


def raw(tcia: Client) -> int:
    response: RawResponse[list[Series]] = tcia.with_raw_response.get_series(collection="X")
    rows: list[Series] = response.parse()
    return response.retries_taken + response.status_code + len(rows)


async def studies(uid: str) -> int:
    async with AsyncClient(api_key="k", base_url="http://127.0.0.1:8080/services/v3") as tcia:
        try:
            found = await tcia.get_patient_study(collection="TCGA-GBM", timeout=5.0, max_retries=0)
        except APIStatusError as exc:
            return exc.status_code
        except TCIAError:
            return -1
        return len(found)
