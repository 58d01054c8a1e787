"""Child of the memory benchmark: ``python -m tests.benchmarks._rss MODE BODY_FILE``.

Reads the body, warms the decoder up on a two-row body (imports and compiled tables are not what is
measured), resets the peak (``/proc/self/clear_refs``), decodes, and prints one JSON line: the peak
RSS during the decode over the RSS just before it, in MB (``VmHWM`` after minus ``VmRSS`` before).
"""

from __future__ import annotations

import gc
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def status(key: str) -> int:
    """A ``/proc/self/status`` figure in kB."""
    text = Path("/proc/self/status").read_text()
    found = re.search(rf"^{key}:\s+(\d+) kB", text, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"no {key} in /proc/self/status")
    return int(found.group(1))


def decoder(mode: str) -> Callable[[bytes], Any]:
    if mode == "json":
        return json.loads
    if mode == "orjson":
        import orjson

        return orjson.loads
    if mode == "msgspec":
        from ._structs import DECODERS

        return DECODERS["native"].decode
    if mode == "sdk":
        from tcia_sdk._runtime.decode import decode_json_result
        from tcia_sdk.nbia_v4._endpoints import GET_SERIES

        from .decode import context

        return lambda body: decode_json_result(context(GET_SERIES, body))
    raise SystemExit(f"unknown mode {mode!r}")


def main(argv: list[str]) -> int:
    mode, path = argv
    decode = decoder(mode)
    body = Path(path).read_bytes()
    warm = body[: body.index(b"},{") + 1] + b"]"
    decode(warm)
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
    before = status("VmRSS")
    result = decode(body)
    peak = status("VmHWM")
    rows = len(result)
    print(
        json.dumps(
            {"mode": mode, "rows": rows, "peak_mb": (peak - before) / 1024, "body_mb": len(body) / 2**20}
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
