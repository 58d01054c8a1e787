"""Exit codes and the one line on stderr that every failure of ``tcia`` ends with.

Scripts branch on the exit code, people read the line; neither should ever see a traceback for a
failure the command knows about (a server error, a bad option, a folder it cannot write).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

import click

from ..errors import ConfigurationError, TCIAError

OK = 0
FAILED = 1  # a call failed, a series failed, or a file or folder could not be written
USAGE = 2  # the command line itself is wrong (click's own code for usage errors)
INTERRUPTED = 130  # Ctrl-C: 128 + SIGINT, as shells report it

_SPACES = re.compile(r"\s+")


def one_line(text: str) -> str:
    """``text`` on one line: a server's HTML excerpt or a multi-line message must not break it."""
    return _SPACES.sub(" ", text).strip()


class CommandFailed(click.ClickException):
    """The command ran but could not do its work (exit 1), said in one line."""

    exit_code = FAILED

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"Error: {self.format_message()}", err=True)


class Interrupted(click.ClickException):
    """Ctrl-C, after the command said what it had done (exit 130)."""

    exit_code = INTERRUPTED

    def show(self, file: IO[Any] | None = None) -> None:
        if sys.stderr.isatty():
            click.echo(err=True)  # the terminal echoed "^C" without a line break
        click.echo(self.format_message(), err=True)


def show_usage_error(error: click.UsageError) -> None:
    """A usage error in one line, with where to find help (click's own form takes three)."""
    command = error.ctx.command_path if error.ctx is not None else "tcia"
    click.echo(f"Error: {one_line(error.format_message())} (see '{command} --help')", err=True)


def describe_os_error(error: OSError) -> str:
    """``path: reason`` (a read-only folder, a full disk, a name that cannot exist)."""
    reason = error.strerror or str(error)
    if error.filename is not None:
        return f"{error.filename}: {reason}"
    return reason


@contextmanager
def failures_reported() -> Iterator[None]:
    """A failed call or file-system error as one line and exit 1; the secrets the SDK knows are
    already redacted from ``str(exc)``, which is all that is shown (never a repr, never headers).

    What the SDK refuses before any request (a ConfigurationError, a ValueError for an argument:
    an empty filter, a layout, a string that is no UID) is a usage error: the fix is in the command.
    """
    try:
        yield
    except ConfigurationError as exc:
        raise click.UsageError(one_line(str(exc))) from None
    except TCIAError as exc:
        raise CommandFailed(str(exc)) from None
    except ValueError as exc:
        raise click.UsageError(one_line(str(exc))) from None
    except OSError as exc:
        raise CommandFailed(describe_os_error(exc)) from None
