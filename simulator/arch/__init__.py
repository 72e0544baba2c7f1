"""Accelerator families and their registry (the interface: simulator/arch/base.py).

Built in: `systolic` (simulator/arch/systolic.py), `maeri` (maeri.py, maeri_mapping.py) and
`sigma` (sigma.py, sigma_tiles.py), each beside its cycle-stepped reference
(`*_reference.py`). Others come from installed packages through the entry-point group
`accelflow.architectures` (name = "module:attribute", the attribute a `Family` instance or
subclass), or from `register(family)` at run time. `family(name)` finds one, `names()` lists
them in a fixed order (built-ins first, then the others by name); a family's position there is
its arch code in the engine's `TargetParams`.

A plugin family that fails to load, is not a `Family`, or takes the name of another family is
reported once on stderr, naming its entry point and distribution, and left out: nothing replaces
a family silently, and a broken plugin does not stop runs that do not use it (a target naming it
is then an unknown family).
"""

from __future__ import annotations

import sys
from importlib.metadata import entry_points

from simulator.arch.base import Family, Fields, SpatialBatch, TileCost, cdiv, ceil_log2

ARCHITECTURES_GROUP = "accelflow.architectures"
BUILTIN = ("systolic", "maeri", "sigma")

__all__ = [
    "ARCHITECTURES_GROUP",
    "BUILTIN",
    "Family",
    "Fields",
    "SpatialBatch",
    "TileCost",
    "cdiv",
    "ceil_log2",
    "families",
    "family",
    "names",
    "register",
]

_registry: dict[str, Family] = {}
_loaded = False


def _builtins() -> list[Family]:
    from simulator.arch.maeri_mapping import MAERI
    from simulator.arch.sigma_tiles import SIGMA
    from simulator.arch.systolic import SYSTOLIC

    return [SYSTOLIC, MAERI, SIGMA]


def _as_family(obj: object, where: str) -> Family:
    if isinstance(obj, type) and issubclass(obj, Family):
        obj = obj()
    if not isinstance(obj, Family) or not obj.name:
        raise TypeError(f"{where} is not an accelflow Family with a name")
    return obj


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for fam in _builtins():
        _registry[fam.name] = fam
    for ep in sorted(entry_points(group=ARCHITECTURES_GROUP), key=lambda e: e.name):
        dist = getattr(ep.dist, "name", "?")
        where = f"entry point '{ep.name} = {ep.value}' of {dist}"
        try:
            fam = _as_family(ep.load(), where)
            if fam.name != ep.name:
                raise TypeError(f"{where} names family '{fam.name}', not '{ep.name}'")
            if fam.name in _registry:
                raise TypeError(f"{where}: a family '{fam.name}' exists already")
        except Exception as err:  # a broken plugin must not break accelflow
            print(f"accelflow: ignoring accelerator family '{ep.name}': {err}", file=sys.stderr)
            continue
        _registry[ep.name] = fam


def register(fam: Family | type[Family]) -> Family:
    """Add a family at run time (a test, a notebook); its name must be new."""
    _load()
    fam = _as_family(fam, repr(fam))
    if fam.name in _registry and _registry[fam.name] is not fam:
        raise ValueError(f"accelerator family '{fam.name}' is already registered")
    _registry[fam.name] = fam
    return fam


def names() -> tuple[str, ...]:
    """Every family's name: built-ins first, then the others by name (their arch codes)."""
    _load()
    rest = sorted(n for n in _registry if n not in BUILTIN)
    return (*BUILTIN, *rest)


def families() -> tuple[Family, ...]:
    """Every family, in `names()` order."""
    return tuple(_registry[n] for n in names())


def family(name: str) -> Family:
    """The family called `name` (KeyError naming the known ones if there is none)."""
    _load()
    try:
        return _registry[name]
    except KeyError:
        raise KeyError(
            f"unknown accelerator family '{name}' (known: {', '.join(names())})"
        ) from None
