"""The ``tcia`` command line (extra ``[cli]``): every endpoint of every API version, downloads,
and the fake server. Commands are built from the generated endpoint descriptors at run time.

Exit codes: 0 all good; 1 a call or a series failed, or a file could not be written; 2 a usage
error; 130 interrupted (Ctrl-C).
"""

from ._app import cli, main

__all__ = ["cli", "main"]
