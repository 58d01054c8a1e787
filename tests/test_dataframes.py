from __future__ import annotations

import datetime

import pandas as pd

from tcia_sdk import to_dataframe
from tcia_sdk.nbia_v4 import Series as V4Series
from tcia_sdk.v3 import Series

ROWS = [
    Series(
        series_instance_uid="1.2",
        image_count=3,
        annotations_flag=True,
        series_date=datetime.date(2001, 11, 21),
    ),
    Series(series_instance_uid="1.3", additional_properties={"LicenseName": "CC BY 3.0"}),
]


def test_columns_are_wire_names_with_dtypes_from_the_spec() -> None:
    frame = to_dataframe(ROWS)
    assert list(frame.columns[:3]) == ["SeriesInstanceUID", "StudyInstanceUID", "Modality"]
    assert frame.columns[-1] == "LicenseName"  # an unknown key, kept
    assert str(frame["SeriesInstanceUID"].dtype) == "string"
    assert str(frame["ImageCount"].dtype) == "Int64"
    assert str(frame["AnnotationsFlag"].dtype) == "boolean"
    assert str(frame["SeriesNumber"].dtype) == "string"  # v3 sends "102.000000"
    assert pd.api.types.is_datetime64_any_dtype(frame["SeriesDate"])
    assert frame["SeriesDate"][0] == pd.Timestamp("2001-11-21")
    assert frame["ImageCount"].isna().tolist() == [False, True]
    assert frame["LicenseName"].tolist() == [None, "CC BY 3.0"]


def test_values_and_empty_results() -> None:
    assert to_dataframe(["MR", "CT"], column="Modality")["Modality"].tolist() == ["MR", "CT"]
    empty = to_dataframe([], model=V4Series)
    assert len(empty) == 0
    assert "DataDescriptionURI" in empty.columns
    assert str(empty["FileSize"].dtype) == "Int64"


def test_every_cell_is_its_models_value() -> None:
    from tcia_sdk._runtime.decode import decode_json_result
    from tcia_sdk.nbia_v4._endpoints import GET_SERIES
    from tests.benchmarks import _rows
    from tests.benchmarks.decode import context

    rows = _rows.v4_series_rows(200)
    rows[3]["Extra"] = "x"
    rows[7]["Other"] = 1
    models = decode_json_result(context(GET_SERIES, _rows.jettison(rows)))
    frame = to_dataframe(models)
    assert list(frame.columns[-2:]) == ["Extra", "Other"]
    assert len(frame) == 200
    for field in models[0].__attrs_attrs__:
        if field.name == "additional_properties":
            continue
        column = frame[field.metadata["wire"]]
        for cell, model in zip(column.tolist(), models, strict=True):
            value = getattr(model, field.name)
            if value is None:
                assert pd.isna(cell)
            elif isinstance(value, datetime.date):
                assert cell == pd.Timestamp(value)
            else:
                assert cell == value
    assert frame["Extra"].tolist()[3] == "x"
    assert frame["Other"].tolist()[7] == 1
    assert frame["Other"].isna().sum() == 199


def test_an_empty_result_of_an_sdk_call_keeps_its_models_columns() -> None:
    import httpx

    from tcia_sdk import nbia_v4, v3

    def answering(body: bytes) -> httpx.MockTransport:
        response = httpx.Response(200, content=body, headers={"Content-Type": "application/json"})
        return httpx.MockTransport(lambda request: response)

    with v3.Client(api_key="k", transport=answering(b"[]")) as tcia:
        rows = tcia.get_series(collection="NONE")
    assert rows == []
    frame = to_dataframe(rows)  # no model= needed: the result knows it
    assert list(frame.columns) == list(to_dataframe([], model=Series).columns)
    assert "SeriesInstanceUID" in frame.columns
    assert str(frame["ImageCount"].dtype) == "Int64"
    for body in (b"", b"[]"):  # NBIA answers "no rows" with an empty body or an empty list
        with nbia_v4.Client(transport=answering(body)) as nbia:
            v4_rows = nbia.get_series(collection="NONE")
        assert v4_rows == []
        v4_frame = to_dataframe(v4_rows)
        assert "DataDescriptionURI" in v4_frame.columns
        assert str(v4_frame["FileSize"].dtype) == "Int64"
    # A plain empty list cannot know its model: one "value" column, unless model= says it.
    assert list(to_dataframe([]).columns) == ["value"]
