"""Plugin discovery: entry points, ``--plugin MODULE`` and ``NETDSL_PLUGINS``.

A plugin is a Python module the user installed or named on purpose; a spec file
never imports Python code. Importing the plugin module (or calling the object
its entry point names) registers its layer kinds through the same public
:func:`netdsl.registry.register` the built-ins use; kinds registered while a
plugin loads are attributed to it. ``NETDSL_DISABLE_PLUGIN_AUTOLOAD=1`` turns
entry-point autoloading off (explicit ``--plugin`` still works).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable, Sequence

from netdsl import syntax as S
from netdsl.errors import Diagnostic
from netdsl.registry import REGISTRY, RegistryError

ENTRY_POINT_GROUP = "netdsl.plugins"
_loaded: dict[str, str] = {}  # plugin name → where it came from
_REQUIRED_MISSING: set[str] = set()
_autoloaded = False


class PluginError(Exception):
    """A plugin failed to import or to register (exit code 3)."""


def _load_one(name: str, target: str, how: str) -> None:
    if name in _loaded:
        return
    with REGISTRY.origin(f"plugin {name}"):
        try:
            module_name, _, attr = target.partition(":")
            obj = importlib.import_module(module_name)
            if attr:
                for part in attr.split("."):
                    obj = getattr(obj, part)
                if callable(obj):
                    obj()
        except RegistryError as err:
            raise PluginError(f"plugin `{name}` ({how}): {err}") from err
        except Exception as err:  # noqa: BLE001 - report any import failure, attributed to the plugin
            raise PluginError(f"plugin `{name}` ({how}) failed to load: {type(err).__name__}: {err}") from err
    _loaded[name] = how


def autoload_disabled() -> bool:
    return os.environ.get("NETDSL_DISABLE_PLUGIN_AUTOLOAD", "").strip() not in ("", "0")


def _entry_points() -> list[tuple[str, str, str]]:
    from importlib.metadata import entry_points

    found = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(ep, "dist", None)
        found.append((dist.name if dist is not None else ep.name, ep.value, f"entry point {ep.name}"))
    return found


def load_plugins(explicit: Sequence[str] = ()) -> list[str]:
    """Load explicit plugins, those in NETDSL_PLUGINS, and (unless disabled) entry points."""
    global _autoloaded
    for mod in explicit:
        _load_one(mod, mod, "--plugin")
    for mod in filter(None, (m.strip() for m in os.environ.get("NETDSL_PLUGINS", "").split(","))):
        _load_one(mod, mod, "NETDSL_PLUGINS")
    if not autoload_disabled() and not _autoloaded:
        _autoloaded = True
        for name, target, how in _entry_points():
            _load_one(name, target, how)
    return sorted(_loaded)


def loaded_plugins() -> dict[str, str]:
    return dict(_loaded)


def _normal(name: str) -> str:
    return name.lower().replace("_", "-")


def check_requirements(requires: Iterable[S.Requires]) -> list[Diagnostic]:
    """Errors for ``requires "plugin"`` lines naming plugins that are not loaded."""
    have = {_normal(n) for n in _loaded} | {_normal(n.split(".")[0]) for n in _loaded}
    out = []
    _REQUIRED_MISSING.clear()
    for req in requires:
        for plugin in req.plugins:
            if _normal(plugin) not in have:
                _REQUIRED_MISSING.add(plugin)
                out.append(Diagnostic("E150", f"this spec requires plugin `{plugin}`, which is not installed",
                                      req.span, hint=f"pip install {plugin}, or load it with --plugin MODULE"))
    return out


def provider_hint(layer: str) -> str | None:
    """A hint for an unknown layer when the spec requires plugins that are not installed."""
    if _REQUIRED_MISSING:
        names = ", ".join(f"`{p}`" for p in sorted(_REQUIRED_MISSING))
        return f"layer `{layer}` may be provided by plugin {names}, which is not installed"
    return None
