"""pandas DataFrames from any list result (extra ``[pandas]``).

Columns are the wire names (DICOM keywords, as TCIA's own tables show them) and their dtypes come
from the spec: strings ``string``, integers ``Int64``, floats ``Float64``, booleans ``boolean``
(all nullable, since absent keys are NULLs), dates and timestamps ``datetime64``. Keys the spec does
not know become extra columns at the end.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    import pandas as pd

DTYPES = {"str": "string", "int": "Int64", "float": "Float64", "bool": "boolean"}


def to_dataframe(rows: Sequence[Any], *, column: str = "value", model: type | None = None) -> pd.DataFrame:
    """A DataFrame of ``rows``: models (one column per field) or plain values (one ``column``).

    An empty result of an SDK call keeps its model's columns: the list it returns remembers its
    model (``Rows.model``). For any other empty list, ``model`` gives the columns.
    """
    import pandas as pd

    if model is None:
        model = getattr(rows, "model", None)
    cls = model if model is not None else (type(rows[0]) if rows else None)
    if cls is None or not attrs.has(cls):
        if rows and not all(isinstance(r, str) for r in rows):
            raise TypeError("to_dataframe takes a list of models or of strings")
        single: pd.DataFrame = pd.DataFrame({column: pd.Series(list(rows), dtype="string")})
        return single
    fields = [f for f in attrs.fields(cls) if f.name != "additional_properties"]
    # One C-level pass: a tuple per row (attrgetter), transposed into a tuple per column (zip).
    getter = attrgetter(*[f.name for f in fields], "additional_properties")
    columns = list(zip(*map(getter, rows), strict=True)) if rows else [()] * (len(fields) + 1)
    data: dict[str, Any] = {}
    for field, cells in zip(fields, columns, strict=False):
        wire = field.metadata["wire"]
        kind = field.metadata.get("type", "str")
        if kind in ("date", "datetime"):
            data[wire] = pd.to_datetime(pd.Series(cells, dtype="object"))
        else:
            data[wire] = pd.Series(cells, dtype=DTYPES.get(kind, "object"))
    extras = [e for e in columns[-1] if e]
    if extras:
        for key in dict.fromkeys(k for e in extras for k in e):
            data[key] = pd.Series([row.additional_properties.get(key) for row in rows], dtype="object")
    frame: pd.DataFrame = pd.DataFrame(data, copy=False)  # the columns are ours: no second copy
    return frame
