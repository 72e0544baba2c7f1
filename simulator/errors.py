"""The user-facing error type shared by every package.

Anything raised as an `AccelflowError` is a user mistake or an unsupported input: the CLI prints
its message on one line (`error: ...`) and exits with `exit_code` (2), with no traceback unless
`--debug` is given. Internal bugs are any other exception. `existing_file` is the one check
that a file the user names exists and can be read (light: the CLI runs it before importing the
compiler); `checked_output` the one check of a file a command is to write (not one of its
inputs, not a folder, FIFO or device, in a folder), `checked_folder` of a folder it writes into;
`checked_number` the one check of a number the user gives (finite, in range); `first_line` the
one way an exception from a library is said on one line.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Sequence
from pathlib import Path


class AccelflowError(Exception):
    """A problem with the user's input, reported as one line; `exit_code` is the CLI's."""

    exit_code = 2


def existing_file(
    path: str | Path, error: type[AccelflowError] = AccelflowError, max_bytes: int | None = None
) -> Path:
    """`path` as a Path if it names a regular file this process may read (and, with
    `max_bytes`, not larger), else `error`: "<path>: no such file", "not a regular file" (a
    directory, a FIFO, a device: never opened, so a FIFO cannot block), "cannot be read", or
    "too large". Checked before a file is opened, so that nothing is read from a wrong one."""
    path = Path(path)
    if not path.is_file():
        raise error(f"{path}: {'not a regular file' if path.exists() else 'no such file'}")
    if not os.access(path, os.R_OK):
        raise error(f"{path}: cannot be read (permission denied)")
    size = path.stat().st_size if max_bytes is not None else 0
    if max_bytes is not None and size > max_bytes:
        raise error(f"{path}: {size:,} bytes, more than the {max_bytes:,} such a file may have")
    return path


def first_line(err: BaseException) -> str:
    """The first non-blank line of an exception's message (its type's name if it has none)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[0] if lines else type(err).__name__


# The largest seed: what an int64 holds (logs and databases store seeds as JSON integers that
# numpy reads back as int64).
MAX_SEED = 2**63 - 1


def checked_number(
    value: object,
    what: str,
    *,
    minimum: float | None = None,
    above: float | None = None,
    maximum: float | None = None,
    error: type[AccelflowError] = AccelflowError,
) -> float:
    """`value` if it is a finite real number (Python's or numpy's, not a bool) with `minimum <= value`, `above < value`
    and `value <= maximum` (each when given), else `error` naming `what` (e.g. "--rtol")."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):  # numpy's bool is not Real
        raise error(f"{what} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise error(f"{what} must be a finite number, got {value}")
    if minimum is not None and value < minimum:
        raise error(f"{what} must be >= {minimum:g}, got {value:g}")
    if above is not None and value <= above:
        raise error(f"{what} must be > {above:g}, got {value:g}")
    if maximum is not None and value > maximum:
        raise error(f"{what} must be <= {maximum:g}, got {value:g}")
    return value


def same_file(a: Path, b: Path) -> bool:
    """Whether `a` and `b` name one file (the same inode, or the same path once resolved)."""
    try:
        if a.exists() and b.exists():
            return a.samefile(b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def _refuse_inputs(
    out: Path, option: str, inputs: Sequence[tuple[str, str | Path | None]], refusal: str
) -> None:
    """`out` is none of the command's `inputs` ((what, path)), else an AccelflowError ending
    in `refusal`."""
    for what, given in inputs:
        if given and Path(given).exists() and same_file(out, Path(given)):
            raise AccelflowError(f"{option} {out} is {what}; {refusal}")


def _existing_ancestor(path: Path) -> Path:
    """The nearest of `path`'s parents that exists (the folders a write would make below it)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def checked_output(
    name: str | Path,
    option: str,
    inputs: Sequence[tuple[str, str | Path | None]],
    make_parents: bool = False,
) -> Path:
    """An output file given as `option`, checked before anything runs: not one of the files the
    command reads (`inputs`: (what, path)), not a folder, not a device or FIFO, in a folder that
    exists (with `make_parents`: under one, the missing folders made later)."""
    out = Path(name)
    files = [(what, given) for what, given in inputs if given and Path(given).is_file()]
    _refuse_inputs(out, option, files, "refusing to overwrite an input (pick another file)")
    if out.is_dir():
        raise AccelflowError(f"{option} {out} is a folder; give a file name")
    if out.exists() and not out.is_file():
        raise AccelflowError(f"{option} {out} is not a regular file; give a file name")
    parent = _existing_ancestor(out.parent) if make_parents else out.parent
    if not parent.is_dir():
        what = "not a folder" if parent.exists() else "no such folder"
        raise AccelflowError(f"{option} {out}: {parent} is {what}")
    return out


def checked_folder(
    name: str | Path, option: str, inputs: Sequence[tuple[str, str | Path | None]]
) -> Path:
    """An output folder given as `option`, checked before anything runs: not one of the
    command's `inputs` ((what, path)) nor any other file, and under a folder, not a file (the
    missing folders made later)."""
    out = Path(name)
    _refuse_inputs(out, option, inputs, "refusing to write into an input (give a folder)")
    if out.exists() and not out.is_dir():
        raise AccelflowError(f"{option} {out} is a file, not a folder; give a folder name")
    parent = _existing_ancestor(out)
    if not parent.is_dir():
        raise AccelflowError(f"{option} {out}: {parent} is a file, not a folder")
    return out
