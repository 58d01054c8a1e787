"""Downloading image series: streamed, verified, laid out, resumable; many at once.

Works with the clients of every API version whose spec has a ``download`` section::

    from tcia_sdk import download_series
    report = download_series(tcia, series, "data/", layout="classic", workers=8)
"""

from ._engine import (
    DownloadReport,
    Estimate,
    Progress,
    SeriesResult,
    adownload_series,
    aestimate_download,
    download_series,
    estimate_download,
)
from ._layout import LAYOUTS
from ._manifest import read_manifest, write_manifest

__all__ = [
    "LAYOUTS",
    "DownloadReport",
    "Estimate",
    "Progress",
    "SeriesResult",
    "adownload_series",
    "aestimate_download",
    "download_series",
    "estimate_download",
    "read_manifest",
    "write_manifest",
]
