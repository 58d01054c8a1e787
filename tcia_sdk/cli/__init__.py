"""The ``tcia`` command line (extra ``[cli]``): every endpoint of every API version, downloads,
and the fake server. Commands are built from the generated endpoint descriptors at run time."""

from ._app import cli, main

__all__ = ["cli", "main"]
