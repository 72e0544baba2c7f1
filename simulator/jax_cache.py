"""The persistent JAX compilation cache: a second process reuses the first one's compiled
simulator instead of compiling it again (seconds per process).

On by default, in a per-user folder: `$XDG_CACHE_HOME/accelflow/jax` (`~/.cache/accelflow/jax`
when XDG_CACHE_HOME is unset). `ACCELFLOW_JAX_CACHE=DIR` moves it, `ACCELFLOW_JAX_CACHE=off`
turns it off; the CLI's `--jax-cache DIR|off` sets that variable for its process. A cache
folder JAX was already given (`JAX_COMPILATION_CACHE_DIR`, or `jax.config` in the caller's
code) is left as it is. Every compiled function is kept, however quickly it compiled (the
functional simulator compiles many small ones). A folder that cannot be created turns the
cache off with a warning, never an error: the cache only saves time.

`enable()` is called before the simulator's first compilation (`engine._jitted`,
`functional`); it is idempotent and cheap after the first call.
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path

from simulator.cache_dirs import cache_folder

ENV = "ACCELFLOW_JAX_CACHE"


def cache_dir() -> Path | None:
    """The folder the cache lives in (None: turned off), from `ACCELFLOW_JAX_CACHE`."""
    return cache_folder(ENV, "jax")


@functools.cache
def enable() -> Path | None:
    """Point JAX's persistent compilation cache at `cache_dir()` (module docstring); the folder
    in use, or None when the cache is off."""
    import jax

    given = jax.config.jax_compilation_cache_dir
    if given:
        return Path(given)
    folder = cache_dir()
    if folder is None:
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        warnings.warn(f"JAX compilation cache off: cannot create {folder}: {err}", stacklevel=2)
        return None
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return folder
