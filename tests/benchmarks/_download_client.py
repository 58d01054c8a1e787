"""One download in a fresh process, timed and measured from inside.

``python -m tests.benchmarks._download_client {sdk|raw|raw_fsync} BASE_URL UID PATH`` prints one
JSON line:
the seconds the download took, the bytes written, the resident set size of the idle process (all
imports done, the client built) and its peak during the download (VmHWM, reset before the download
where the kernel allows it; else the peak since start, which can only overstate the increase).
"""

from __future__ import annotations

import json
import os
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import httpx

from tcia_sdk.v3 import Client

KEY = "bench-key"
TIMEOUT = httpx.Timeout(60.0)


def status_kib(field: str) -> int:
    """A ``VmRSS``/``VmHWM`` line of /proc/self/status, in KiB."""
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def reset_peak() -> bool:
    """Reset VmHWM to the current RSS (``5`` to /proc/self/clear_refs, Linux >= 4.0)."""
    try:
        Path("/proc/self/clear_refs").write_text("5", encoding="ascii")
    except OSError:
        return False
    return True


def sdk_download(base: str, uid: str, path: Path) -> Callable[[], int]:
    client = Client(api_key=KEY, base_url=base, timeout=TIMEOUT, max_retries=0)

    def download() -> int:
        with client:
            return client.get_image(series_instance_uid=uid, to=path).bytes_written

    return download


def raw_download(base: str, uid: str, path: Path, fsync: bool = False) -> Callable[[], int]:
    """``httpx.stream`` into a file; ``fsync``: then flush it to disk, as the SDK's atomic path does."""
    url = f"{base}/TCIA/query/getImage"

    def download() -> int:
        written = 0
        params = {"SeriesInstanceUID": uid}
        with httpx.stream("GET", url, params=params, headers={"api_key": KEY}, timeout=TIMEOUT) as response:
            response.raise_for_status()
            with path.open("wb") as file:
                for chunk in response.iter_bytes():
                    file.write(chunk)
                    written += len(chunk)
                if fsync:
                    file.flush()
                    os.fsync(file.fileno())
        return written

    return download


def main(argv: list[str]) -> int:
    mode, base, uid, target = argv
    path = Path(target)
    if mode == "sdk":
        download = sdk_download(base, uid, path)
    elif mode in ("raw", "raw_fsync"):
        download = raw_download(base, uid, path, fsync=mode == "raw_fsync")
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    idle = status_kib("VmRSS")
    reset = reset_peak()
    started = time.perf_counter()
    written = download()
    seconds = time.perf_counter() - started
    peak = status_kib("VmHWM")
    with zipfile.ZipFile(path) as archive:  # reads the central directory only
        entries = len(archive.infolist())
    report = {
        "mode": mode,
        "seconds": seconds,
        "bytes": written,
        "file_bytes": path.stat().st_size,
        "entries": entries,
        "idle_kib": idle,
        "peak_kib": peak,
        "peak_reset": reset,
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
