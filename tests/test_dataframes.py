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
