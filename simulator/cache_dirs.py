"""Where accelflow keeps what only saves time (compiled code, compiled programs).

Each cache has an environment variable: unset, the per-user folder
`$XDG_CACHE_HOME/accelflow/<name>` (`~/.cache/accelflow/<name>` when XDG_CACHE_HOME is unset);
a folder moves it; `off` (or 0, false, no, none) turns it off.
"""

from __future__ import annotations

import os
from pathlib import Path

OFF = ("off", "0", "false", "no", "none")


def cache_folder(env: str, name: str) -> Path | None:
    """The folder of cache `name`, as the variable `env` says (None: turned off)."""
    value = os.environ.get(env, "").strip()
    if value.lower() in OFF:
        return None
    if value:
        return Path(value).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "accelflow" / name
