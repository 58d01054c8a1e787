"""``make live-check``: every public endpoint of every API version, once, against the real servers.

Run it after each TCIA release (``python -m tcia_sdk.livecheck``, network needed). For each version
it calls every endpoint once, filling parameters from what earlier answers held (collections, then
patients, studies, series, internal keys...), decodes every answer leniently and reports, per
endpoint, what passed, what failed, and what drifted from the spec:

* unknown columns: keys the spec does not declare (``additional_properties``);
* odd values: values that do not fit their declared type (`tcia_sdk.odd_values`);
* missing fields: declared fields absent from every row (informational: NULL is allowed).

It also downloads one small series with verification. Retired APIs are skipped unless given a base
URL (``--base-url v3=URL``). Endpoints that change the server (a shared cart made, then deleted) run
with ``--writes``. Exit status: 0 all passed, 1 something failed, 3 only drift, 2 usage.

Offline, ``--fake`` runs the same check against the embedded fake TCIA (which is how it is tested).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib
import json
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import attrs

from ._runtime.endpoint import Endpoint, Param
from ._versions import available_versions, load_version
from .errors import TCIAError

Status = Literal["passed", "drift", "failed", "broken", "skipped"]
# Fields whose values say how big a row's subject is: the check prefers the smallest (cheap calls).
SIZE_FIELDS = ("Count", "ImageCount", "FileSize", "TotalSizeInBytes")
DEFAULT_WORKDIR = "live-check-data"


@attrs.frozen
class EndpointCheck:
    """How one endpoint fared."""

    version: str
    endpoint: str
    status: Status
    seconds: float = 0.0
    detail: str = ""
    rows: int | None = None
    unknown_columns: tuple[str, ...] = ()
    odd_values: tuple[str, ...] = ()
    missing_fields: tuple[str, ...] = ()


class _Pool:
    """Values seen so far, by wire field, smallest subject first (where a size is known)."""

    def __init__(self) -> None:
        self._values: dict[str, list[tuple[float, Any]]] = {}

    def add(self, field: str, value: Any, size: float) -> None:
        found = self._values.setdefault(field, [])
        if all(v != value for _, v in found) and len(found) < 50:
            found.append((size, value))
            found.sort(key=lambda item: item[0])

    def first(self, field: str) -> Any:
        found = self._values.get(field)
        return found[0][1] if found else None

    def harvest(self, result: Any) -> None:
        for row in _rows(result):
            size = next((float(row[k]) for k in SIZE_FIELDS if isinstance(row.get(k), int | float)), 0.0)
            for key, value in row.items():
                for item in value if isinstance(value, tuple | list) else (value,):
                    if isinstance(item, str | int | float | dt.date) and not isinstance(item, bool):
                        self.add(key, item, size)


def _rows(result: Any) -> Iterator[dict[str, Any]]:
    """Rows of any result as {wire name: typed value}, nested models included, for harvesting."""
    items = result if isinstance(result, list) else [result]
    for item in items:
        if attrs.has(type(item)):
            yield from _flatten(item)


def _flatten(model: Any) -> Iterator[dict[str, Any]]:
    row: dict[str, Any] = {}
    children: list[Any] = []
    for field in attrs.fields(type(model)):
        if "wire" not in field.metadata:
            continue
        value = getattr(model, field.name)
        for child in value if isinstance(value, tuple) else (value,):
            if attrs.has(type(child)):
                children.append(child)
        if value is not None:
            row[field.metadata["wire"]] = value
    yield row
    for child in children:
        yield from _flatten(child)


def _drift(
    endpoint: Endpoint, result: Any, odd: Sequence[Any]
) -> tuple[tuple[str, ...], tuple[str, ...], int]:
    """(unknown columns, missing fields, rows) of a decoded result."""
    from ._runtime.structure import odd_values

    models = [r for r in (result if isinstance(result, list) else [result]) if attrs.has(type(r))]
    models = [m for m in models if m != type(m)()]  # "no data" (every field None) is no row
    if not models or endpoint.model is None:
        return (), (), len(models)
    unknown: set[str] = set()
    present: set[str] = set()
    for row in models:
        extras = set(getattr(row, "additional_properties", {}))
        unknown |= extras - set(odd_values(row))
        present |= {
            f.metadata["wire"]
            for f in attrs.fields(type(row))
            if "wire" in f.metadata and getattr(row, f.name) is not None
        }
    declared = [f.wire for f in endpoint.model.fields]
    missing = tuple(w for w in declared if w not in present)
    return tuple(sorted(unknown)), missing, len(models)


class _VersionCheck:
    def __init__(
        self, version: str, client: Any, workdir: Path, writes: bool, token: str, pool: _Pool
    ) -> None:
        self.version = version
        self.client = client
        self.workdir = workdir
        self.writes = writes
        self.token = token  # the name of what the check makes (a shared cart), unique per run
        self.pool = pool  # shared by the versions of a run: v4's series feed the Advanced API's cart
        self.results: dict[str, EndpointCheck] = {}

    def arguments(self, endpoint: Endpoint, invent: bool = False) -> dict[str, Any] | str:
        """Keyword arguments for one call, or why none can be made yet. ``invent``: a required name
        no answer gave (a shared cart's) may be the run's own token."""
        kwargs: dict[str, Any] = {}
        optional_done = False
        for param in endpoint.params:
            if param.internal or param.paging:
                continue
            value = self._value(endpoint, param, invent)
            if param.required and value is None:
                return f"no value yet for {param.python} ({param.matches or param.wire})"
            if value is None:
                continue
            if param.required or not optional_done:
                kwargs[param.python] = value
                optional_done = optional_done or not param.required
        return kwargs

    def _value(self, endpoint: Endpoint, param: Param, invent: bool) -> Any:
        if param.type == "enum":
            return param.enum[-1] if "" in param.enum else param.enum[0]
        if param.type == "bool":
            return True if param.required else None
        found = self.pool.first(param.matches or param.wire)
        if found is None and invent and param.required and param.type == "str":
            found = self.token  # a name the check chooses (a shared cart it makes)
        if found is None:
            return None
        if param.type == "date" and not isinstance(found, dt.date):
            return None
        if param.type == "int" and not isinstance(found, int):
            return None
        if param.type == "str":
            found = str(found)
        return [found] if param.repeated else found

    def run(self) -> list[EndpointCheck]:
        module = load_version(self.version)
        endpoints: list[Endpoint] = list(module.ENDPOINTS)
        pending = [e for e in endpoints if e.idempotent]
        invent = False
        while pending:
            ready = [(e, a) for e in pending if isinstance(a := self.arguments(e, invent), dict)]
            if not ready:
                if invent:
                    break
                invent = True  # what answers cannot give, the check names itself
                continue
            for endpoint, kwargs in ready:
                self.results[endpoint.name] = self.call(endpoint, kwargs)
                pending.remove(endpoint)
        for endpoint in pending:
            why = self.arguments(endpoint, invent=True)
            self.results[endpoint.name] = EndpointCheck(
                self.version, endpoint.name, "skipped", detail=str(why)
            )
        for endpoint in (e for e in endpoints if not e.idempotent):
            arguments = self.arguments(endpoint, invent=True)
            if not self.writes:
                self.results[endpoint.name] = EndpointCheck(
                    self.version, endpoint.name, "skipped", detail="changes the server; run with --writes"
                )
            elif isinstance(arguments, str):
                self.results[endpoint.name] = EndpointCheck(
                    self.version, endpoint.name, "skipped", detail=arguments
                )
            else:
                self.results[endpoint.name] = self.call(endpoint, arguments)
        checks = [self.results[e.name] for e in endpoints]
        if getattr(self.client, "_download_info", None) is not None:
            checks.append(self.download())
        return checks

    def call(self, endpoint: Endpoint, kwargs: dict[str, Any]) -> EndpointCheck:
        method = getattr(self.client, endpoint.python_name)
        if endpoint.result == "binary":
            in_memory = endpoint.content == "dicom-instance" or endpoint.media_type == "image/jpeg"
            if not in_memory:
                kwargs = {**kwargs, "to": self.workdir / f"{self.version}-{endpoint.name}.bin"}
        started = time.monotonic()
        try:
            if endpoint.result == "page":
                result = method(**kwargs).first_page()
                odd: list[Any] = []
            elif endpoint.result == "binary":
                result = method(**kwargs)
                odd = []
            else:
                raw = getattr(self.client.with_raw_response, endpoint.python_name)(**kwargs)
                result = raw.parse()
                odd = list(raw.odd_values)
        except TCIAError as exc:
            seconds = time.monotonic() - started
            if endpoint.broken:  # the spec knows the server fails here
                return EndpointCheck(self.version, endpoint.name, "broken", seconds, f"as expected: {exc}")
            return EndpointCheck(self.version, endpoint.name, "failed", seconds, str(exc))
        seconds = time.monotonic() - started
        if endpoint.broken:
            detail = f"works, although the spec says the server fails: {endpoint.broken}"
            return EndpointCheck(self.version, endpoint.name, "drift", seconds, detail)
        if endpoint.result == "binary":
            size = len(result) if isinstance(result, bytes) else result.bytes_written
            status: Status = "passed" if size > 0 else "failed"
            return EndpointCheck(self.version, endpoint.name, status, seconds, f"{size} bytes", rows=None)
        if endpoint.result in ("values", "strings") and endpoint.value_field:
            for value in result:
                self.pool.add(endpoint.value_field, value, 0.0)
        self.pool.harvest(result)
        unknown: tuple[str, ...] = ()
        missing: tuple[str, ...] = ()
        rows: int | None = None
        if endpoint.result in ("rows", "row", "object", "page"):
            unknown, missing, rows = _drift(endpoint, result, odd)
        elif isinstance(result, list):
            rows = len(result)
        shown_odd = tuple(str(o)[:200] for o in odd)
        status = "drift" if unknown or shown_odd else "passed"
        detail = f"{len(result)} characters" if isinstance(result, str) else ""
        return EndpointCheck(
            self.version, endpoint.name, status, seconds, detail, rows, unknown, shown_odd, missing
        )

    def download(self) -> EndpointCheck:
        """One small series downloaded and verified (zip CRCs, counts, sizes, MD5s)."""
        from .download import download_series

        uid = self.pool.first("SeriesInstanceUID")
        if uid is None:
            return EndpointCheck(self.version, "download_series", "skipped", detail="no series seen")
        started = time.monotonic()
        try:
            report = download_series(
                self.client, [uid], self.workdir / f"{self.version}-download", force=True
            )
        except TCIAError as exc:
            return EndpointCheck(
                self.version, "download_series", "failed", time.monotonic() - started, str(exc)
            )
        (result,) = report
        seconds = time.monotonic() - started
        if result.status == "failed":
            return EndpointCheck(self.version, "download_series", "failed", seconds, str(result.error))
        detail = f"{uid}: {result.instances} instances, {result.dicom_bytes} bytes verified"
        return EndpointCheck(
            self.version, "download_series", "passed", seconds, detail, rows=result.instances
        )


def check(
    versions: Sequence[str],
    base_urls: dict[str, str],
    *,
    workdir: Path,
    writes: bool = False,
    client_options: dict[str, Any] | None = None,
) -> list[EndpointCheck]:
    """Check ``versions`` (against their default servers unless ``base_urls`` names one)."""
    out: list[EndpointCheck] = []
    token = f"tcia-sdk-live-check-{secrets.token_hex(4)}"
    pool = _Pool()
    # Live data APIs first (those that serve series): their answers fill the others' parameters.
    order = {"live": 0, "deprecated": 1, "retired": 2}

    def rank(version: str) -> tuple[int, bool, str]:
        module = load_version(version)
        downloads = importlib.import_module(f"{module.__name__}._endpoints").DOWNLOAD is not None
        return order.get(module.API.status, 3), not downloads, version

    for version in sorted(versions, key=rank):
        module = load_version(version)
        api = module.API
        base = base_urls.get(version)
        if api.status == "retired" and base is None:
            out.append(
                EndpointCheck(version, "*", "skipped", detail=f"{api.name} is retired; give --base-url")
            )
            continue
        given = dict(client_options or {})
        key = given.pop("api_key", None)
        options: dict[str, Any] = {"max_retries": 1, **given}
        if base is not None:
            options["base_url"] = base
        if api.auth.kind == "api_key":
            options["api_key"] = os.environ.get(api.auth.env or "") or key
        workdir.mkdir(parents=True, exist_ok=True)
        try:
            client = module.Client(**options)
        except TCIAError as exc:
            out.append(EndpointCheck(version, "*", "failed", detail=str(exc)))
            continue
        with client:
            out.extend(_VersionCheck(version, client, workdir, writes, token, pool).run())
    return out


def render(checks: Sequence[EndpointCheck]) -> str:
    lines = [f"{'version':<14} {'endpoint':<36} {'status':<8} {'secs':>6}  detail"]
    for c in checks:
        notes = [c.detail] if c.detail else []
        if c.rows is not None:
            notes.append(f"{c.rows} rows")
        if c.unknown_columns:
            notes.append("unknown columns: " + ", ".join(c.unknown_columns))
        if c.odd_values:
            notes.append(f"{len(c.odd_values)} odd values, first: {c.odd_values[0]}")
        if c.missing_fields:
            notes.append(f"never present: {', '.join(c.missing_fields)}")
        lines.append(f"{c.version:<14} {c.endpoint:<36} {c.status:<8} {c.seconds:6.2f}  {'; '.join(notes)}")
    counts = {
        s: sum(1 for c in checks if c.status == s) for s in ("passed", "drift", "failed", "broken", "skipped")
    }
    lines.append(", ".join(f"{n} {s}" for s, n in counts.items()))
    return "\n".join(lines) + "\n"


def exit_status(checks: Sequence[EndpointCheck]) -> int:
    if any(c.status == "failed" for c in checks):
        return 1
    return 3 if any(c.status == "drift" for c in checks) else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tcia_sdk.livecheck", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("--versions", default=",".join(available_versions()), help="comma-separated")
    parser.add_argument("--base-url", action="append", default=[], metavar="VERSION=URL")
    parser.add_argument("--writes", action="store_true", help="also run endpoints that change the server")
    parser.add_argument("--fake", action="store_true", help="check the embedded fake TCIA instead (offline)")
    parser.add_argument("--json", type=Path, help="also write the report as JSON")
    parser.add_argument("--workdir", type=Path, help="where downloads go (default: a temporary folder)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    versions = [v for v in args.versions.split(",") if v]
    unknown = [v for v in versions if v not in available_versions()]
    if unknown:
        print(
            f"unknown version(s): {', '.join(unknown)}; available: {', '.join(available_versions())}",
            file=sys.stderr,
        )
        return 2
    base_urls: dict[str, str] = {}
    for item in args.base_url:
        version, sep, url = item.partition("=")
        if not sep:
            print(f"--base-url {item!r}: expected VERSION=URL", file=sys.stderr)
            return 2
        base_urls[version] = url
    with contextlib.ExitStack() as stack:
        options: dict[str, Any] = {}
        if args.fake:
            from .testing import fake_tcia_server

            running = stack.enter_context(fake_tcia_server(versions))
            base_urls = {v: running.base_url(v) for v in versions} | base_urls
            options["api_key"] = running.api_key
        workdir = args.workdir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tcia-live-")))
        checks = check(versions, base_urls, workdir=workdir, writes=args.writes, client_options=options)
    sys.stdout.write(render(checks))
    if args.json is not None:
        args.json.write_text(json.dumps([attrs.asdict(c) for c in checks], indent=2, default=str) + "\n")
    return exit_status(checks)


if __name__ == "__main__":
    raise SystemExit(main())
