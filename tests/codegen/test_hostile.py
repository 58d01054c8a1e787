"""Hostile strings in a spec give valid, safe code (or a clear spec error, see test_spec_errors)."""

from __future__ import annotations

import ast
import json
import textwrap
from pathlib import Path

import httpx

from codegen.files import load_api_text
from codegen.render import render_package

from .helpers import generate_and_import

NASTY = 'He said """hi""" \\ {{ evil }} {% raw %} \'q\' "dq" \n\t tab; end with a quote"'


def spec() -> str:
    doc = json.dumps(NASTY)
    return textwrap.dedent(
        f"""\
        spec_version: 1
        api:
          name: {doc}
          package: mini
          doc: {doc}
          base_url: https://example.invalid/x
          auth: {{kind: none}}
          empty_result: empty_body
        resources:
          r: {{path: "q"}}
        models:
          Row:
            doc: {doc}
            fields:
              'we"ird key\\\\': {{type: str, name: weird, doc: {doc}}}
              "import os; os.system('x')": {{type: str, name: payload, doc: {doc}}}
        endpoints:
          getQuoted:
            resource: r
            doc: {doc}
            params:
              - {{wire: 'p"\\\\', type: str, name: p, doc: {doc}}}
            response: {{kind: rows, model: Row}}
        """
    )


def test_generated_code_parses_and_keeps_strings_exact(tmp_path: Path) -> None:
    files = render_package(load_api_text(spec(), "hostile.yaml"))
    for name, source in files.items():
        if name.endswith(".py"):
            ast.parse(source, filename=name)  # valid Python
        assert "{{" not in source.replace("{{ evil }}", "")  # no template syntax leaked
    pkg = generate_and_import(spec(), tmp_path)
    endpoint = pkg.ENDPOINTS[0]
    assert endpoint.name == "getQuoted"
    # YAML single quotes keep backslashes as written: two of them.
    assert endpoint.params[0].wire == 'p"\\\\'
    assert [f.wire for f in pkg.MODELS["Row"].fields] == ['we"ird key\\\\', "import os; os.system('x')"]
    assert "evil" in pkg.Client.get_quoted.__doc__

    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[{'we"ird key\\\\': "v", "import os; os.system('x')": "w"}])

    with pkg.Client(transport=httpx.MockTransport(handler)) as client:
        (row,) = client.get_quoted(p="value")
    assert (row.weird, row.payload) == ("v", "w")
    assert seen[0].url.params.multi_items() == [('p"\\\\', "value")]
