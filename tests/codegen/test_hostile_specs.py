"""Hostile or broken spec files end in diagnostics (file:line: yaml.path: message), quickly.

Each spec is validated by ``python -m codegen validate`` in a subprocess that is killed after
TIMEOUT seconds and may not use more than MEMORY bytes: a regression (a hang, a memory blow-up,
a traceback) fails its test instead of stalling or swapping the whole suite. Once the subprocess
has shown it ends, the same spec is loaded in-process and that call alone is timed (CPU time):
the diagnostics must come within BUDGET seconds of generator time (interpreter start-up and
imports, which the subprocess pays, are not the generator's).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from codegen.diagnostics import SpecError
from codegen.files import load_api

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 60  # a hang guard only; the time the generator takes is asserted in-process (BUDGET)
BUDGET = 1.0
MEMORY = 1 << 30
CHILD = f"""\
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({MEMORY}, {MEMORY}))
from codegen.cli import main
raise SystemExit(main(["validate", sys.argv[1]]))
"""

HEAD = """\
spec_version: 1
api:
  name: T
  package: t
  doc: d
  base_url: https://example.invalid
  auth: {kind: none}
  empty_result: empty_body
resources:
  r: {path: q}
"""


def validate(tmp_path: Path, content: str | bytes) -> list[str]:
    """The diagnostics `python -m codegen validate t.yaml` prints for ``content``."""
    spec = tmp_path / "t.yaml"
    spec.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    try:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(spec)],
            cwd=ROOT,
            capture_output=True,
            encoding="utf-8",
            env={**os.environ, "PYTHONIOENCODING": "utf-8"},
            timeout=TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"validating the spec took more than {TIMEOUT} s")
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    assert (done.returncode, done.stdout) == (2, ""), done.stderr[-2000:]
    lines = done.stderr.splitlines()
    assert in_process(spec) == lines  # the same diagnostics, from the timed call
    return lines


def in_process(spec: Path) -> list[str]:
    """The diagnostics of loading and validating ``spec`` in this process, within BUDGET seconds."""
    started = time.process_time()  # CPU time: the generator's, not the wait for a busy machine
    with pytest.raises(SpecError) as info:
        load_api(spec)
    elapsed = time.process_time() - started
    assert elapsed < BUDGET, f"the generator took {elapsed:.2f} s to refuse the spec"
    return str(info.value).splitlines()


@pytest.fixture(autouse=True, scope="module")
def _warm() -> None:
    """Import and build once what every load uses (the schema validator), outside the timings."""
    load_api(ROOT / "tests" / "codegen" / "fixtures" / "mini.yaml")


def test_billion_laughs_is_refused_at_the_first_anchor(tmp_path: Path) -> None:
    lines = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for level in range(1, 10):
        previous = "a" if level == 1 else f"b{level - 1}"
        lines.append(f"b{level}: &b{level} [{', '.join([f'*{previous}'] * 9)}]")
    assert validate(tmp_path, "\n".join(lines) + "\n") == [
        "t.yaml:1: a: anchors and aliases (&x / *x) are not supported, expected plain values"
    ]
    # An alias alone (to an undefined anchor) is refused the same way, at its own line and path.
    assert validate(tmp_path, HEAD + "endpoints:\n  getX: [*nowhere]\n") == [
        "t.yaml:12: endpoints.getX[0]: anchors and aliases (&x / *x) are not supported, expected plain values"
    ]


def test_deep_nesting_is_refused_where_it_gets_too_deep(tmp_path: Path) -> None:
    too_deep = "nested more than 64 levels deep, expected a flatter spec"
    # 100,000 levels: PyYAML's composer (and the converter) recursed until RecursionError.
    # Every node counts, keys too: the 65th level of a mapping is its key, reported at the mapping.
    assert validate(tmp_path, "x: " + "[" * 100_000 + "]" * 100_000 + "\n") == [
        f"t.yaml:1: x{'[0]' * 63}: {too_deep}"
    ]
    assert validate(tmp_path, "x: " + "{a: " * 100_000 + "1" + "}" * 100_000 + "\n") == [
        f"t.yaml:1: x{'.a' * 62}: {too_deep}"
    ]
    block = "".join(f"{'  ' * level}k{level}:\n" for level in range(700))
    assert validate(tmp_path, block) == [f"t.yaml:64: {'.'.join(f'k{n}' for n in range(63))}: {too_deep}"]


DOWNLOAD = """\
models:
  Series: {doc: s, fields: {ImageCount: {type: int, doc: n}}}
endpoints:
  getImage:
    resource: r
    doc: z
    params: [{wire: SeriesInstanceUID, type: str, doc: u}]
    response: {kind: binary, media_type: application/zip, content: series-zip}
  getSeries:
    resource: r
    doc: m
    params: [{wire: SeriesInstanceUID, type: str, repeated: true, doc: u}]
    response: {kind: rows, model: Series}
download:
  zip: getImage
  metadata: getSeries
  count_field: ImageCount
  metadata_list_param: SeriesInstanceUID
  metadata_chunk: CHUNK
"""


def test_numbers_too_long_or_not_whole_are_refused(tmp_path: Path) -> None:
    too_long = "a number of {} characters is too long, expected at most 32 (quote it if it is text)"
    # 5,000 digits: int() refused them (ValueError, Python's int-string conversion limit).
    assert validate(tmp_path, "spec_version: " + "9" * 5_000 + "\n") == [
        f"t.yaml:1: spec_version: {too_long.format(5_000)}"
    ]
    # Hex digits have no such limit, but the value cannot be printed in a message afterwards;
    # 200 base-60 parts overflowed float(). Both are refused by their length before conversion.
    hex_int = "0x" + "f" * 5_000
    sexagesimal = ":".join(["59"] * 200) + ".5"
    assert validate(tmp_path, HEAD + f"endpoints: {{}}\nx: {hex_int}\ny: [{sexagesimal}]\n") == [
        f"t.yaml:12: x: {too_long.format(5_002)}",
        f"t.yaml:13: y[0]: {too_long.format(len(sexagesimal))}",
    ]

    # JSON Schema's "integer" accepts 1e+300 and 100.0 (floats with no fraction); they would
    # become the download's chunk size. inf and nan are caught by the schema.
    def chunk(value: str) -> list[str]:
        return validate(tmp_path, HEAD + DOWNLOAD.replace("CHUNK", value))

    not_whole = "is not a whole number, expected an integer written without a decimal point"
    assert chunk("1.0e+300") == [f"t.yaml:29: download.metadata_chunk: 1e+300 {not_whole}"]
    assert chunk("100.0") == [f"t.yaml:29: download.metadata_chunk: 100.0 {not_whole}"]
    assert chunk(".inf") == ["t.yaml:29: download.metadata_chunk: inf has the wrong type, expected integer"]
    assert chunk(".nan") == ["t.yaml:29: download.metadata_chunk: nan has the wrong type, expected integer"]


def test_binary_garbage_and_control_characters_are_refused_with_their_line(tmp_path: Path) -> None:
    not_text = "expected UTF-8 YAML text"
    # PyYAML refused these in its reader, before parsing, with a bare ReaderError.
    assert validate(tmp_path, "spec_version: 1\nx: a\x00b\n") == [
        f"t.yaml:2: <root>: character U+0000 is not allowed in YAML (column 5, position 20), {not_text}"
    ]
    assert validate(tmp_path, "spec_version: 1\n\n  \x1b[31m\n") == [
        f"t.yaml:3: <root>: character U+001B is not allowed in YAML (column 3, position 19), {not_text}"
    ]
    # Bytes that are not UTF-8 made reading the file fail (UnicodeDecodeError).
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00"
    assert validate(tmp_path, png) == [
        f"t.yaml:1: <root>: byte 0x89 is not UTF-8 (column 1, position 0), {not_text}"
    ]
    latin1 = HEAD.replace("doc: d", "doc: caf\xe9").encode("latin-1")
    assert validate(tmp_path, latin1) == [
        f"t.yaml:5: <root>: byte 0xE9 is not UTF-8 (column 11, position 54), {not_text}"
    ]
    # A YAML escape can still make a lone surrogate, which no file can hold: writing the
    # generated package failed (UnicodeEncodeError).
    assert validate(tmp_path, HEAD.replace("doc: d", 'doc: "\\ud800"') + "endpoints: {}\n") == [
        "t.yaml:5: api.doc: character U+D800 (a lone surrogate) cannot be written as UTF-8, "
        "expected UTF-8 text"
    ]


def test_merge_keys_are_refused_in_every_form(tmp_path: Path) -> None:
    merge = "merge keys (<<) are not supported, expected plain keys"
    anchors = "anchors and aliases (&x / *x) are not supported, expected plain values"
    # Each form failed with a ConstructorError (no constructor for tag:yaml.org,2002:merge).
    assert validate(tmp_path, "<<: {a: 1}\nspec_version: 1\n") == [f"t.yaml:1: <root>: {merge}"]
    assert validate(tmp_path, "spec_version: 1\nx: {<<: {a: 1}, b: 2}\n") == [f"t.yaml:2: x: {merge}"]
    assert validate(tmp_path, "spec_version: 1\nx:\n  y:\n    <<: {a: 1}\n") == [f"t.yaml:4: x.y: {merge}"]
    assert validate(tmp_path, "spec_version: 1\nbase: &b {a: 1}\nx:\n  y: 1\n  <<: *b\n") == [
        f"t.yaml:2: base: {anchors}",
        f"t.yaml:5: x: {merge}",
    ]
    assert validate(tmp_path, "b: &b {a: 1}\nc: &c {d: 1}\nx: {<<: [*b, *c]}\n") == [
        f"t.yaml:1: b: {anchors}",
        f"t.yaml:3: x: {merge}",
    ]
    # A quoted "<<" is a plain key (here an unknown one), as in YAML 1.2.
    assert validate(tmp_path, HEAD + 'endpoints: {}\n"<<": 1\n') == [
        "t.yaml:1: <root>: unknown key(s) '<<', expected one of: api, criteria, download, endpoints, "
        "excluded, extends, models, parameters, resources, spec_version"
    ]


WIRE = r"""spec_version: 1
api:
  name: T
  package: "t\n"
  doc: d
  base_url: "https://example.invalid\n"
  auth: {kind: api_key, header: "X-Key\u2028", token_url: "../oauth/tok en"}
  empty_result: empty_body
resources:
  r: {path: "q\n"}
models:
  M:
    doc: m
    fields:
      PixelSpacing(mm)-Row: {type: str, doc: a, name: row}
      Series Instance UID: {type: str, doc: b}
      "Pixel\rSpacing": {type: str, doc: c, name: c}
endpoints:
  getX:
    resource: r
    doc: x
    params: [{wire: "Series\x85UID", type: str, doc: u}, {wire: "Series Instance UID", type: str, doc: v}]
    response: {kind: text, media_type: "text/plain; name=\u263a"}
"""


def test_strings_sent_over_http_are_checked(tmp_path: Path) -> None:
    # These passed validation; then every call failed (UnicodeEncodeError, invalid header or
    # URL), and "t\n" passed the package pattern ^[a-z][a-z0-9_]*$ and named a directory.
    token = "an HTTP header name: an RFC 7230 token (ASCII letters, digits and !#$%&'*+-.^_`|~)"
    url = "URL of printable ASCII without spaces"
    wire = "a name without control characters (C0, DEL, C1) or line separators (U+2028, U+2029)"
    media = "a media type such as application/json; charset=utf-8 (ASCII only)"
    assert validate(tmp_path, WIRE) == [
        "t.yaml:4: api.package: 't\\n' does not match '^[a-z][a-z0-9_]*$'",
        f"t.yaml:6: api.base_url: 'https://example.invalid\\n' is not allowed, expected an http(s) {url}",
        f"t.yaml:7: api.auth.header: 'X-Key\\u2028' is not allowed, expected {token}",
        "t.yaml:7: api.auth.token_url: '../oauth/tok en' is not allowed, "
        f"expected a {url} (absolute or relative to base_url)",
        "t.yaml:10: resources.r.path: 'q\\n' does not match '^[A-Za-z0-9_./-]*$'",
        f"t.yaml:17: models.M.fields['Pixel\\rSpacing']: 'Pixel\\rSpacing' is not allowed, expected {wire}",
        f"t.yaml:22: endpoints.getX.params[0].wire: 'Series\\x85UID' is not allowed, expected {wire}",
        "t.yaml:23: endpoints.getX.response.media_type: 'text/plain; name=\u263a' is not allowed, "
        f"expected {media}",
    ]
    # Non-Latin-1 header names are not tokens either.
    assert validate(tmp_path, WIRE.replace("X-Key\\u2028", "X-\u041a\u043b\u044e\u0447"))[2] == (
        f"t.yaml:7: api.auth.header: 'X-\u041a\u043b\u044e\u0447' is not allowed, expected {token}"
    )


def test_huge_files_other_roots_more_documents_and_non_string_keys_are_refused(tmp_path: Path) -> None:
    # 6 MB were read and parsed whole (seconds of pure-Python parsing); now only the first 1 MB.
    assert validate(tmp_path, "spec_version: 1\n" + ("#" * 99 + "\n") * 60_000) == [
        "t.yaml:1: <root>: the spec is larger than 1,000,000 characters, expected a smaller file"
    ]
    # Small but dense: every node costs the converter, the schema check and build some time.
    assert validate(tmp_path, "x: [" + "1," * 30_000 + "1]\n") == [
        "t.yaml:1: x[9997]: more than 10,000 keys and values, expected a smaller spec"
    ]
    # Aliases count too, though they are not expanded.
    assert validate(tmp_path, "a: &a 1\nb: [" + "*a," * 30_000 + "*a]\n") == [
        "t.yaml:1: a: anchors and aliases (&x / *x) are not supported, expected plain values",
        "t.yaml:2: b[9995]: more than 10,000 keys and values, expected a smaller spec",
    ]
    # The schema said "['a', 'b'] has the wrong type, expected object", with the whole document.
    mapping = "expected a mapping (spec_version: 1, api: ...)"
    assert validate(tmp_path, "- a\n- b\n") == [f"t.yaml:1: <root>: the spec is a list, {mapping}"]
    assert validate(tmp_path, "# a comment\nhello\n") == [
        f"t.yaml:2: <root>: the spec is a single value, {mapping}"
    ]
    assert validate(tmp_path, "~\n") == ["t.yaml:1: <root>: empty spec, expected a mapping"]
    # Was "invalid YAML: but found another document, expected well-formed YAML".
    assert validate(tmp_path, "spec_version: 1\n---\nspec_version: 2\n") == [
        "t.yaml:2: <root>: a second YAML document (---) follows, expected one per spec"
    ]
    # Keys YAML reads as other values became "None", "True", "2024-01-01", "['a', 'b']", "1".
    keys = HEAD + textwrap.dedent(
        """\
        models:
          ~: {doc: m, fields: {}}
          M:
            doc: m
            fields:
              yes: {type: str, doc: a}
              2024-01-01: {type: str, doc: b}
          ? [a, b]
          : {doc: m, fields: {}}
        endpoints:
          1: {resource: r, doc: x, response: {kind: text}}
        """
    )
    quote = "expected a string key (quote it)"
    assert validate(tmp_path, keys) == [
        f"t.yaml:12: models: key ~ is read as null, {quote}",
        f"t.yaml:16: models.M.fields: key yes is read as a boolean, {quote}",
        f"t.yaml:17: models.M.fields: key 2024-01-01 is read as a date, {quote}",
        "t.yaml:18: models: a list as a key, expected a string key",
        f"t.yaml:21: endpoints: key 1 is read as an integer, {quote}",
    ]


def test_tags_and_values_yaml_cannot_read_are_refused(tmp_path: Path) -> None:
    tags = "tags (!x / !!x) are not supported, expected plain values"
    # Unknown and python/* tags raised ConstructorError, !!bool maybe KeyError, !!int abc ValueError.
    for value in ("!foo bar", "!!python/name:os.system ''", "!!bool maybe", "!!int abc", "[!!binary aGk=]"):
        path = "x[0]" if value.startswith("[") else "x"
        assert validate(tmp_path, f"spec_version: 1\nx: {value}\n") == [f"t.yaml:2: {path}: {tags}"]
    # A plain scalar that looks like a date but is none raised ValueError.
    assert validate(tmp_path, HEAD.replace("doc: d", "doc: 2001-13-45") + "endpoints: {}\n") == [
        "t.yaml:5: api.doc: 2001-13-45 is read as a date but is not valid (month must be in 1..12), "
        "expected a valid value or quoted text"
    ]


def test_extends_with_a_nul_or_a_long_chain_is_refused(tmp_path: Path) -> None:
    # A YAML escape can put a NUL in a string: as the path of a base spec it raised
    # ValueError (embedded null byte) in Path.resolve().
    assert validate(tmp_path, 'spec_version: 1\nextends: "base\\0.yaml"\n') == [
        "t.yaml:2: extends: cannot read 'base\\x00.yaml': embedded null byte"
    ]
    # Each base is loaded recursively: 1,500 specs in a chain raised RecursionError.
    for n in range(1, 1_500):
        (tmp_path / f"s{n}.yaml").write_text(f"spec_version: 1\nextends: s{n + 1}.yaml\n")
    assert validate(tmp_path, "spec_version: 1\nextends: s1.yaml\n") == [
        "s16.yaml:2: extends: 's17.yaml' is more than 16 extends deep, expected a shorter chain"
    ]
