"""The user-facing error type shared by every package.

Anything raised as an `AccelflowError` is a user mistake or an unsupported input: the CLI prints
its message on one line (`error: ...`) and exits with `exit_code` (2), with no traceback unless
`--debug` is given. Internal bugs are any other exception.
"""


class AccelflowError(Exception):
    """A problem with the user's input, reported as one line; `exit_code` is the CLI's."""

    exit_code = 2
