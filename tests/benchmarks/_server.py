"""The benchmarks' server process: ``python -m tests.benchmarks._server KIND --port N [...]``.

Kinds (each a `LoopbackServer` app, served in the foreground until terminated):

* ``fake``: FakeTCIA(["v3"]) over a dataset of 20 collections (get_collection_values: 20 rows).
* ``zip``: getImage answers a valid stored zip of ``--size`` bytes (rounded to 1 MiB entries),
  streamed in 1 MiB chunks without a Content-Length, as TCIA builds zips on the fly.
* ``bulk``: any SeriesInstanceUID is a series: getSeries answers its metadata row, getImage the
  same tiny valid series zip; everything else is FakeTCIA(["v3"]).
* ``bulk4``: the same on NBIA v4, the live API: getSeriesMetadata answers one row per UID of its
  comma-joined ``list`` (a POST), getImage the tiny zip with its md5hashes.csv and LICENSE.

Every kind answers ``GET /_bench/counts`` with the server's request counts by last path segment,
and ``GET /_bench/peak`` with the most getImage requests it answered at once since the last ask.
``--zip-latency`` delays getImage alone: TCIA builds each zip on the fly, while metadata answers
come fast.
"""

from __future__ import annotations

import argparse
import json
import random
import struct
import zlib
from collections.abc import Iterator, Sequence

import attrs

from tcia_sdk.testing import DEFAULT_API_KEY, App, Delay, FakeTCIA, LoopbackServer, Request, Response
from tcia_sdk.testing._dataset import SeriesData, default_dataset, series_zip

COUNTS_PATH = "/_bench/counts"
PEAK_PATH = "/_bench/peak"
MIB = 1 << 20
JSON = {"Content-Type": "application/json"}


# -- fake: 20 collections ---------------------------------------------------------------------
def collections_dataset(n: int = 20) -> tuple[SeriesData, ...]:
    """The bundled dataset's series copied into ``n`` collections of one series each."""
    base = default_dataset()
    out = []
    for i in range(n):
        series = base[i % len(base)]
        uid = f"{series.uid}.{900 + i}"
        row = {**series.row, "Collection": f"BENCH-COLLECTION-{i:02d}", "SeriesInstanceUID": uid}
        out.append(attrs.evolve(series, uid=uid, row=row))
    return tuple(out)


# -- zip: a large stored zip, streamed --------------------------------------------------------
class ZipStream:
    """A valid zip of ``entries`` stored (uncompressed) 1 MiB members of the same random bytes."""

    def __init__(self, size: int) -> None:
        self.entries = max(1, size // MIB)
        self.payload = random.Random(1411).randbytes(MIB)
        self.crc = zlib.crc32(self.payload)

    def _name(self, index: int) -> bytes:
        return f"./{index + 1}-{index + 100}.dcm".encode()

    def chunks(self) -> Iterator[bytes]:
        offsets: list[int] = []
        offset = 0
        size = len(self.payload)
        for index in range(self.entries):
            name = self._name(index)
            # local file header: signature, version, flags, method (0: stored), time, date, crc, sizes
            head = struct.pack(
                "<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0x21, self.crc, size, size, len(name), 0
            )
            offsets.append(offset)
            chunk = head + name + self.payload
            offset += len(chunk)
            yield chunk
        central = b"".join(
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                20,
                20,
                0,
                0,
                0,
                0x21,
                self.crc,
                size,
                size,
                len(self._name(i)),
                0,
                0,
                0,
                0,
                0,
                offsets[i],
            )
            + self._name(i)
            for i in range(self.entries)
        )
        end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, self.entries, self.entries, len(central), offset, 0)
        yield central + end

    def __call__(self, request: Request) -> Response:
        if not request.path.endswith("/getImage"):
            return Response(404, b"", {"Content-Type": "text/plain"})
        headers = {"Content-Type": "application/zip", "Content-Disposition": 'attachment; filename="s.zip"'}
        return Response(200, self.chunks(), headers)


# -- bulk: every UID a tiny series ------------------------------------------------------------
class BulkSeries:
    """getSeries and getImage for any SeriesInstanceUID, from one series of the bundled dataset."""

    def __init__(self) -> None:
        self.fake = FakeTCIA(["v3"])
        template = min(self.fake.dataset, key=lambda s: len(s.instances))
        self.zip = series_zip(template, layout="bindaas")
        prefix = self.fake.mounts["v3"]
        query = (("SeriesInstanceUID", template.uid), ("format", "json"))
        answer = self.fake(
            Request("GET", f"{prefix}/TCIA/query/getSeries", query, {"api_key": DEFAULT_API_KEY}, b"")
        )
        assert isinstance(answer.body, bytes)
        rows = json.loads(answer.body)
        assert len(rows) == 1, rows
        self.row: dict[str, object] = rows[0]

    def __call__(self, request: Request) -> Response:
        uid = dict(request.query).get("SeriesInstanceUID", "")
        if request.path.endswith("/getSeries") and uid:
            return Response(200, json.dumps([{**self.row, "SeriesInstanceUID": uid}]).encode(), JSON)
        if request.path.endswith("/getImage") and uid:
            headers = {
                "Content-Type": "application/zip",
                "Content-Disposition": f'attachment; filename="{uid}.zip"',
            }
            return Response(200, iter([self.zip]), headers)  # length-less, as the real server
        return self.fake(request)


class BulkSeries4:
    """NBIA v4's getSeriesMetadata and getImage for any SeriesInstanceUID."""

    def __init__(self) -> None:
        self.fake = FakeTCIA(["nbia_v4"])
        template = min(self.fake.dataset, key=lambda s: len(s.instances))
        self.prefix = self.fake.mounts["nbia_v4"]
        form = f"list={template.uid}".encode()
        headers = {"content-type": "application/x-www-form-urlencoded"}
        answer = self.fake(Request("POST", f"{self.prefix}/getSeriesMetadata", (), headers, form))
        assert isinstance(answer.body, bytes)
        # The server's CSV: a header line and one line for the template series.
        header, line = answer.body.decode().rstrip("\n").split("\n")
        assert template.uid in line, line
        self.header, self.line, self.template = header, line, template.uid
        self.content_type = answer.headers.get("Content-Type", "text/csv")
        image = self.fake(
            Request(
                "GET",
                f"{self.prefix}/getImage",
                (("SeriesInstanceUID", template.uid), ("IncludeMD5", "yes")),
                {},
                b"",
            )
        )
        self.zip = image.body if isinstance(image.body, bytes) else b"".join(image.body)
        self.zip_headers = image.headers

    def __call__(self, request: Request) -> Response:
        if request.path.endswith("/getSeriesMetadata"):
            uids = [u for value in dict(request.form).get("list", "").split(",") if (u := value.strip())]
            lines = [self.header, *(self.line.replace(self.template, uid) for uid in uids)]
            return Response(200, ("\n".join(lines) + "\n").encode(), {"Content-Type": self.content_type})
        uid = dict(request.query).get("SeriesInstanceUID", "")
        if request.path.endswith("/getImage") and uid:
            return Response(200, iter([self.zip]), dict(self.zip_headers))
        return self.fake(request)


# -- serving ----------------------------------------------------------------------------------
class Counted:
    """``app`` plus the counts endpoint, which reads the server's own request log."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.server: LoopbackServer | None = None

    def __call__(self, request: Request) -> Response:
        if request.path == COUNTS_PATH:
            assert self.server is not None
            return Response(200, json.dumps(dict(self.server.counts())).encode(), JSON)
        if request.path == PEAK_PATH:  # and start counting the next peak
            assert self.server is not None
            peak = self.server.peak("getImage")
            self.server.reset_peaks()
            return Response(200, json.dumps(peak).encode(), JSON)
        return self.app(request)


def build_app(kind: str, size: int) -> App:
    if kind == "fake":
        return FakeTCIA(["v3"], dataset=collections_dataset())
    if kind == "zip":
        return ZipStream(size)
    if kind == "bulk":
        return BulkSeries()
    if kind == "bulk4":
        return BulkSeries4()
    raise ValueError(f"unknown server kind {kind!r}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks._server")
    parser.add_argument("kind", choices=["fake", "zip", "bulk", "bulk4"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every response")
    parser.add_argument("--zip-latency", type=float, default=0.0, help="seconds added to getImage")
    parser.add_argument("--size", type=int, default=MIB, help="zip size in bytes (kind zip)")
    args = parser.parse_args(argv)
    app = Counted(build_app(args.kind, args.size))
    server = LoopbackServer(app, host="127.0.0.1", port=args.port)
    server.faults.latency = args.latency
    if args.zip_latency:
        server.faults.add(Delay(args.zip_latency), path="getImage", times=None)
    app.server = server
    server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
