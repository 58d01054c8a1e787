"""The tcia_sdk generator: spec/*.yaml -> tcia_sdk/<package>/.

The pipeline, one module a stage::

    loader.py     YAML text -> plain data + the line of every YAML path (duplicate keys caught)
    schema.py     data checked against spec/spec.schema.json
    build.py      data -> intermediate model (ir.py): references resolved, names derived and checked
    render.py     intermediate model -> Python source through the Jinja templates in templates/
    files.py      write the files, or compare them with what is committed (the drift check)

Every problem found in a spec is a `Diagnostic` (file:line: yaml.path: message), reported all at once.
Run it as ``python -m codegen generate|check|validate``.
"""
