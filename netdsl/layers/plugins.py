"""Plugin discovery: entry points, ``--plugin MODULE`` and ``NETDSL_PLUGINS``.

A plugin is a Python module the user installed or named on purpose; a spec file
never imports Python code (it may only say ``requires "netdsl-se"``, which is
checked against the loaded plugins). Importing the plugin module, and calling
the function its entry point names if it names one (``module:function``),
registers its layer kinds through the same public
:func:`netdsl.registry.register` the built-ins use and, optionally, a block
library through :func:`netdsl.imports.register_library`. Everything registered
while a plugin loads is attributed to it (``plugin netdsl-se``).

Sources, loaded in this order, each module at most once:

1. entry points in the group ``netdsl.plugins`` of installed distributions
   (named after the distribution), unless ``NETDSL_DISABLE_PLUGIN_AUTOLOAD=1``;
2. ``NETDSL_PLUGINS=mod1,mod2``;
3. ``--plugin MODULE`` (repeatable).

Scanning the entry points reads the installed distributions' metadata: about
2 ms in a venv of ~100 packages (``importlib.metadata`` itself is already
imported by pydantic), so it is done eagerly at start-up rather than cached.

A plugin that fails to import or to register raises :class:`PluginError` (the
CLI exits 3 naming the plugin and the exception); whatever it registered before
failing is removed again.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from netdsl.errors import Diagnostic, did_you_mean
from netdsl.imports import _LIBRARIES
from netdsl.layers.registry import REGISTRY, RegistryError
from netdsl.syntax import tree as S

ENTRY_POINT_GROUP = "netdsl.plugins"
DISABLE_ENV = "NETDSL_DISABLE_PLUGIN_AUTOLOAD"
PLUGINS_ENV = "NETDSL_PLUGINS"


class PluginError(Exception):
    """A plugin failed to import or to register (exit code 3)."""


@dataclass(frozen=True)
class Plugin:
    """A loaded plugin: its name, what was imported, how it was found, and what it registered."""

    name: str  #: distribution name for entry points (``netdsl-se``), else the module name
    target: str  #: ``module`` or ``module:function``
    how: str  #: ``entry point netdsl-se = netdsl_se``, ``--plugin`` or ``NETDSL_PLUGINS``
    kinds: tuple[str, ...] = ()
    libraries: tuple[str, ...] = ()

    @property
    def module(self) -> str:
        """The imported module (the target without ``:function``)."""
        return self.target.partition(":")[0]


_loaded: dict[str, Plugin] = {}  # target → plugin
_autoloaded = False
_required_missing: list[str] = []  # set by check_requirements, read by provider_hint (same analysis)


def normalize(name: str) -> str:
    """PEP 503 spelling: ``netdsl_se``, ``NetDSL.SE`` and ``netdsl-se`` are the same plugin."""
    return re.sub(r"[-_.]+", "-", name).lower()


def autoload_disabled() -> bool:
    """True when ``NETDSL_DISABLE_PLUGIN_AUTOLOAD`` is set to anything but empty or 0."""
    return os.environ.get(DISABLE_ENV, "").strip() not in ("", "0")


def _snapshot() -> tuple[set[str], dict[str, Path]]:
    return set(REGISTRY.names()), dict(_LIBRARIES)


def _rollback(kinds: set[str], libraries: dict[str, Path]) -> None:
    for name in set(REGISTRY.names()) - kinds:
        REGISTRY.unregister(name)
    _LIBRARIES.clear()
    _LIBRARIES.update(libraries)


def _load_one(name: str, target: str, how: str) -> None:
    if target in _loaded:
        return  # the same module named twice (entry point and --plugin): import it once
    try:
        _import(name, target, how)
    except PluginError as err:
        if how.startswith("entry point"):  # installed, not asked for: say how to run without it
            raise PluginError(f"{err}\n  hint: {DISABLE_ENV}=1 skips installed plugins") from err.__cause__
        raise


def _import(name: str, target: str, how: str) -> None:
    module_name, _, attr = target.partition(":")
    label = f"plugin `{name}` ({how})"
    kinds_before, libs_before = _snapshot()
    with REGISTRY.origin(f"plugin {name}"):
        try:
            obj: object = importlib.import_module(module_name)
            for part in filter(None, attr.split(".")):
                obj = getattr(obj, part)
            if attr:
                if not callable(obj):
                    raise PluginError(f"{label}: `{target}` is not a function to call")
                obj()
        except PluginError:
            _rollback(kinds_before, libs_before)
            raise
        except RegistryError as err:
            _rollback(kinds_before, libs_before)
            raise PluginError(f"{label}: {err}") from err
        except (Exception, SystemExit) as err:  # any failure inside a plugin is reported, attributed to it
            _rollback(kinds_before, libs_before)
            raise PluginError(f"{label} failed to load: {type(err).__name__}: {err}") from err
    libraries = {k for k, v in _LIBRARIES.items() if libs_before.get(k) != v}
    clash = sorted(lib for lib in libraries if lib in libs_before or lib == "netdsl")
    if clash:
        _rollback(kinds_before, libs_before)
        raise PluginError(f"{label}: block library `{clash[0]}` is already registered")
    kinds = tuple(sorted(set(REGISTRY.names()) - kinds_before))
    _loaded[target] = Plugin(name, target, how, kinds, tuple(sorted(libraries)))


def entry_points() -> list[tuple[str, str, str]]:
    """Installed plugins as ``(distribution name, target, how)``, sorted by name (nothing is imported)."""
    from importlib.metadata import entry_points as scan

    found = []
    for ep in scan(group=ENTRY_POINT_GROUP):
        dist = getattr(ep, "dist", None)
        name = dist.name if dist is not None else ep.name
        found.append((name, ep.value.replace(" ", ""), f"entry point {ep.name} = {ep.value}"))
    return sorted(found)


def load_plugins(explicit: Sequence[str] = ()) -> list[Plugin]:
    """Load installed entry points (unless disabled), then ``NETDSL_PLUGINS``, then ``explicit`` modules.

    Safe to call repeatedly: each module is imported once. Raises :class:`PluginError`.
    """
    global _autoloaded
    if not autoload_disabled() and not _autoloaded:
        for name, target, how in entry_points():
            _load_one(name, target, how)
        _autoloaded = True
    for mod in filter(None, (m.strip() for m in os.environ.get(PLUGINS_ENV, "").split(","))):
        _load_one(mod, mod, PLUGINS_ENV)
    for mod in explicit:
        _load_one(mod, mod, "--plugin")
    return loaded_plugins()


def unload(plugin: Plugin) -> None:
    """Remove what ``plugin`` registered (kinds, libraries), so it can be loaded again (tests, reloads).

    The Python module stays in ``sys.modules``; drop it there too before loading it again.
    """
    for kind in plugin.kinds:
        REGISTRY.unregister(kind)
    for lib in plugin.libraries:
        _LIBRARIES.pop(lib, None)
    _loaded.pop(plugin.target, None)


def loaded_plugins() -> list[Plugin]:
    """The plugins loaded so far, in load order."""
    return list(_loaded.values())


def _is_loaded(requirement: str) -> bool:
    want = normalize(requirement)
    for p in _loaded.values():
        names = (p.name, p.module, p.module.split(".")[0])
        if any(normalize(n) == want for n in names):
            return True
    return False


def _installed(requirement: str) -> bool:
    """Whether a distribution of that name is installed (only asked on the error path)."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        distribution(requirement)
    except (PackageNotFoundError, ValueError):
        return False
    return True


def check_requirements(requires: Iterable[S.Requires]) -> list[Diagnostic]:
    """Errors (E150), at the ``requires`` line, for required plugins that are not loaded.

    A requirement matches a loaded plugin's distribution name, module or top-level
    package, ignoring case and ``-``/``_``/``.`` differences.
    """
    out = []
    _required_missing.clear()
    for req in requires:
        for plugin in req.plugins:
            if _is_loaded(plugin):
                continue
            _required_missing.append(plugin)
            if autoload_disabled() and _installed(plugin):
                modules = [t.partition(":")[0] for n, t, _ in entry_points() if normalize(n) == normalize(plugin)]
                load = f"--plugin {modules[0]}" if modules else "--plugin MODULE"
                out.append(
                    Diagnostic(
                        "E150",
                        f"this spec requires plugin `{plugin}`, which is installed but not loaded",
                        req.span,
                        hint=f"plugin autoloading is off ({DISABLE_ENV}); unset it or pass {load}",
                    )
                )
            else:
                out.append(
                    Diagnostic(
                        "E150",
                        f"this spec requires plugin `{plugin}`, which is not installed",
                        req.span,
                        hint=f"pip install {plugin}, or load its module with --plugin MODULE",
                    )
                )
    return out


def provider_hint(layer: str) -> str | None:
    """A hint for an unknown name: the spec's missing required plugins, or autoload being off.

    None when the name is a near miss of a registered kind: a typo, better served by did-you-mean.
    """
    if did_you_mean(layer, REGISTRY.names()) is not None:
        return None
    if _required_missing:
        names = ", ".join(f"`{p}`" for p in _required_missing)
        which = "which are" if len(_required_missing) > 1 else "which is"
        state = "not loaded" if autoload_disabled() and all(map(_installed, _required_missing)) else "not installed"
        what = "block" if layer[:1].isupper() else "layer"  # the convention: blocks CamelCase, layers lower
        return f"{what} `{layer}` may be provided by plugin {names}, {which} {state}"
    if autoload_disabled():
        idle = sorted({name for name, target, _ in entry_points() if target not in _loaded})
        if idle:
            return (
                f"plugin autoloading is off ({DISABLE_ENV}) and these installed plugins are not loaded: "
                + ", ".join(idle)
            )
    return None
