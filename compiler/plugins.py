"""Extensions from other distributions, found through Python entry points.

A package adds a pass to `accelflow-opt -p ...`, to `accelflow compile|simulate|tune --passes ...`
and to the Python API by declaring it in its `pyproject.toml`, with no change to accelflow:

    [project.entry-points."accelflow.passes"]
    demo-force-dataflow = "accelflow_demo_plugin.force_dataflow:ForceDataflowPass"

The entry point's name is the pass name (the class's `name`), its value a `ModulePass` subclass.
Discovery reads only the installed distributions' metadata; a plugin's module is imported when a
pipeline names its pass. A plugin that cannot be imported, is not a `ModulePass` subclass or
names another pass is a `PluginError` naming the pass, the entry point and its distribution; so
is a plugin pass whose name is a built-in pass's (accelflow's or xDSL's) or another plugin's:
nothing replaces a pass silently. docs/extending.md walks through a plugin
(examples/plugins/accelflow-demo-plugin).

Accelerator families come the same way, through `ARCHITECTURES_GROUP` (family name -> a
`simulator.arch.Family`); their registry is `simulator.arch` (the simulator needs them without
the compiler).
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Collection
from functools import partial

from xdsl.passes import ModulePass

from simulator.arch import ARCHITECTURES_GROUP
from simulator.errors import AccelflowError

PASSES_GROUP = "accelflow.passes"
"""Entry point group of pass plugins: pass name -> `ModulePass` subclass."""

__all__ = ["ARCHITECTURES_GROUP", "PASSES_GROUP", "PluginError"]

PassFactory = Callable[[], type[ModulePass]]


class PluginError(AccelflowError):
    """An installed plugin that cannot be used: it fails to import, is not what its group
    expects, or would replace a pass of the same name."""


def entry_points(group: str) -> tuple[importlib.metadata.EntryPoint, ...]:
    """The entry points of `group` in the installed distributions, each once (a distribution
    found twice on the path, e.g. through a stale `*.egg-info`, counts once)."""
    seen: dict[tuple[str, str, str], importlib.metadata.EntryPoint] = {}
    for ep in importlib.metadata.entry_points(group=group):
        seen.setdefault((ep.name, ep.value, _distribution_name(ep)), ep)
    return tuple(seen.values())


def _distribution_name(ep: importlib.metadata.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return "" if dist is None else str(dist.name)


def describe(ep: importlib.metadata.EntryPoint) -> str:
    """`'name' (entry point 'module:attr' of distribution 'dist version')`, for messages."""
    dist = getattr(ep, "dist", None)
    origin = (
        "an unknown distribution" if dist is None else f"distribution '{dist.name} {dist.version}'"
    )
    return f"'{ep.name}' (entry point '{ep.value}' of {origin})"


def load_pass(ep: importlib.metadata.EntryPoint) -> type[ModulePass]:
    """The pass class of a plugin's entry point, checked: a ModulePass subclass named as its
    entry point. Any failure is one PluginError naming the plugin and its distribution."""
    try:
        loaded = ep.load()
    except Exception as err:  # whatever the plugin's import raises, it is the plugin's fault
        raise PluginError(
            f"pass plugin {describe(ep)} failed to load: {type(err).__name__}: {err}"
        ) from None
    if not isinstance(loaded, type) or not issubclass(loaded, ModulePass):
        kind = f"the class {loaded.__name__}" if isinstance(loaded, type) else repr(loaded)
        raise PluginError(
            f"pass plugin {describe(ep)} is not a ModulePass subclass: it loads {kind}"
        )
    if loaded.name != ep.name:
        raise PluginError(
            f"pass plugin {describe(ep)} loads the pass named '{loaded.name}': the entry "
            "point's name must be the pass's `name`"
        )
    return loaded


def plugin_passes(builtin: Collection[str]) -> dict[str, PassFactory]:
    """Pass name -> lazy loader (`load_pass`) for every `accelflow.passes` entry point.

    A plugin named like a pass in `builtin`, or declared by two distributions, is a PluginError
    (a plugin never replaces a pass silently)."""
    found: dict[str, importlib.metadata.EntryPoint] = {}
    for ep in entry_points(PASSES_GROUP):
        if ep.name in builtin:
            raise PluginError(
                f"pass plugin {describe(ep)} has the name of a built-in pass: rename the pass "
                "and its entry point, or uninstall the distribution"
            )
        if ep.name in found:
            raise PluginError(
                f"two pass plugins are named '{ep.name}': {describe(found[ep.name])} and "
                f"{describe(ep)}; uninstall one"
            )
        found[ep.name] = ep
    return {name: partial(load_pass, ep) for name, ep in found.items()}
