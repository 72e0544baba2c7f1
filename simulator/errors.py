"""The user-facing error type shared by every package.

Anything raised as an `AccelflowError` is a user mistake or an unsupported input: the CLI prints
its message on one line (`error: ...`) and exits with `exit_code` (2), with no traceback unless
`--debug` is given. Internal bugs are any other exception. `existing_file` is the one check
that a file the user names exists (light: the CLI runs it before importing the compiler).
"""

from __future__ import annotations

from pathlib import Path


class AccelflowError(Exception):
    """A problem with the user's input, reported as one line; `exit_code` is the CLI's."""

    exit_code = 2


def existing_file(path: str | Path, error: type[AccelflowError] = AccelflowError) -> Path:
    """`path` as a Path if it names a regular file, else `error` ("<path>: no such file", or
    "not a regular file" for a directory, a FIFO or a device)."""
    path = Path(path)
    if not path.is_file():
        raise error(f"{path}: {'not a regular file' if path.exists() else 'no such file'}")
    return path
