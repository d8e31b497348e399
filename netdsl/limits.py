"""Every limit on what one spec may ask of the machine, in one place, with defaults and overrides.

A spec file is untrusted input: netdsl must never crash, hang or exhaust memory
because of one. Each guard below stops a runaway spec with a diagnostic at the
offending line that names the limit and how to raise it. The defaults are
generous for any real architecture (ResNet-1001 and DenseNet-264 check far
inside them); raise one when a spec really needs it:

* command line: ``netdsl check --max-nodes 500000 --timeout 300 …`` (every
  command that reads a spec takes the same options, see ``netdsl check --help``);
* environment: ``NETDSL_MAX_NODES=500000``, ``NETDSL_TIMEOUT=300`` … (the field
  name in upper case with a ``NETDSL_`` prefix);
* Python: ``netdsl.check(path, limits=Limits(max_nodes=500_000))``, or for every
  call in a block of code, ``with netdsl.limits.using(Limits(max_nodes=500_000)):``.

Two bounds are fixed, since no real net comes near them and raising them could
only hang the machine: integers are at most 2⁶² (:data:`MAX_INT`) and lists
hold at most :data:`MAX_LIST` items.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, fields
from typing import Any

from netdsl.errors import Diagnostic, Span
from netdsl.units import fmt_bytes

MAX_INT = 1 << 62  # keeps `2 ** 10 ** 9` from hanging the machine; far beyond any layer size
MAX_LIST = 10_000  # a list value (literal or `+` result): stops `let b = a + a` doubling into gigabytes


@dataclass(frozen=True)
class Limits:
    """Guards against specs that would exhaust the machine; each generous for any real net.

    ``timeout`` is wall-clock seconds for the whole front end (reading, lowering,
    shape inference); ``0`` or ``None`` means no limit.
    """

    max_file_bytes: int = 1 << 20  # one file (E211)
    max_total_bytes: int = 4 << 20  # a spec and all its imports together (E215)
    max_imports: int = 256  # imported files (E213)
    max_import_depth: int = 32  # a imports b imports c … (E214)
    max_syntax_depth: int = 200  # levels of nesting: each bracket and each operator inside one (E003)
    max_depth: int = 64  # nested statements: blocks, groups, repeats, merges, `if` arms (E131)
    max_repeat: int = 10_000  # one repeat count (E133)
    max_nodes: int = 200_000  # modules and repeat iterations after expansion (E132)
    max_layer_params: int = 1 << 31  # parameters of one layer (E303)
    max_activation: int = 1 << 32  # elements of one layer's output, per sample (E304)
    timeout: float | None = 60.0  # seconds for the front end (E134)

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "timeout":
                if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
                    raise ValueError(f"timeout must be a number of seconds ≥ 0, got {value!r}")
            elif isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{f.name} must be a positive integer, got {value!r}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Limits:
        """The defaults, then ``NETDSL_<NAME>`` environment variables, then ``overrides`` (None = keep)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            text = env.get(env_name(f.name), "").strip()
            if text:
                values[f.name] = parse_limit(f.name, text, f"{env_name(f.name)}")
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


#: What each limit bounds, for ``--help`` and the language reference.
DESCRIPTIONS: dict[str, str] = {
    "max_file_bytes": "bytes of one spec or imported file",
    "max_total_bytes": "bytes of a spec and all its imports together",
    "max_imports": "imported files",
    "max_import_depth": "files importing files importing …",
    "max_syntax_depth": "levels of nesting in a file: each (, [ and { and each operator inside brackets",
    "max_depth": "levels of nested statements: blocks, groups, repeats, merges, if arms",
    "max_repeat": "the count of one repeat",
    "max_nodes": "modules and repeat iterations after expansion",
    "max_layer_params": "parameters of one layer",
    "max_activation": "values of one layer's output, per sample",
    "timeout": "wall-clock seconds for reading, lowering and shape inference (0: no limit)",
}

_CURRENT: ContextVar[Limits | None] = ContextVar("netdsl_limits", default=None)


def current() -> Limits:
    """The limits a run uses when given none: those of :func:`using`, else the defaults and environment."""
    return _CURRENT.get() or Limits.from_env()


@contextlib.contextmanager
def using(limits: Limits) -> Iterator[Limits]:
    """Make ``limits`` the default of every front-end run inside the ``with`` block (the CLI's options do this)."""
    token = _CURRENT.set(limits)
    try:
        yield limits
    finally:
        _CURRENT.reset(token)


def env_name(field: str) -> str:
    """``max_nodes`` → ``NETDSL_MAX_NODES``."""
    return f"NETDSL_{field.upper()}"


def option_name(field: str) -> str:
    """``max_nodes`` → ``--max-nodes`` (the command-line option that overrides it)."""
    return "--" + field.replace("_", "-")


def parse_limit(field: str, text: str, where: str) -> int | float:
    """A limit's value from text (``1_000_000``, ``2**31`` and ``1e6`` accepted); ValueError names ``where``."""
    t = text.strip().replace("_", "")
    try:
        if field == "timeout":
            seconds = float(t)
            if not seconds >= 0 or seconds == float("inf"):
                raise ValueError
            return seconds  # 0: no limit
        if "**" in t:
            base, _, exp = t.partition("**")
            value = int(base) ** int(exp) if 0 <= int(exp) <= 64 else -1
        else:
            value = int(float(t)) if "e" in t.lower() else int(t)
    except (ValueError, OverflowError):  # `abc`, `1e400`
        what = "a number of seconds (0: no limit)" if field == "timeout" else "a positive integer"
        raise ValueError(f"{where} must be {what}, got {text!r}") from None
    if value < 1:
        raise ValueError(f"{where} must be a positive integer, got {text!r}")
    return value


def how_to_raise(field: str, value: object | None = None) -> str:
    """The standard hint: which option, variable and keyword raise a limit."""
    now = f" (now {value:,})" if isinstance(value, int) else ""
    return f"raise the limit{now} with {option_name(field)} N, {env_name(field)}=N or Limits({field}=N)"


class LimitExceeded(Exception):
    """A limit that stops the whole front end (the node count, the deadline): carries its diagnostic."""

    def __init__(self, diagnostic: Diagnostic):
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


class Guard:
    """The limits of one front-end run, with its deadline (started when the guard is made).

    The deadline is checked in the loops of the passes (each statement lowered,
    each layer shaped, each file read): a cooperative check, never a signal that
    could fire inside library code and leave it half-done.
    """

    BYTES_PER_ELEMENT = 4  # float32, as the memory estimates of `netdsl shapes` and the compiler assume

    def __init__(self, limits: Limits | None = None):
        self.limits = limits or current()
        seconds = self.limits.timeout
        self.deadline = time.monotonic() + seconds if seconds else None
        self._skip = 0  # ticks left before the clock is read again

    #: The clock is read on the first tick and then every this many: a tick is a statement
    #: or a layer (microseconds), so a spec still stops within a millisecond of its deadline.
    TICKS_PER_CLOCK_READ = 32

    def tick(self, span: Span | None, doing: str = "checking") -> None:
        """Stop the front end with E134 once the wall-clock budget is spent."""
        if self._skip:
            self._skip -= 1
            return
        self._skip = self.TICKS_PER_CLOCK_READ - 1
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise LimitExceeded(
                Diagnostic(
                    "E134",
                    f"{doing} this spec took longer than {self.limits.timeout:g} s; stopped here",
                    span,
                    hint=f"real nets check in seconds; if this one really needs more time, "
                    f"use --timeout SECONDS, {env_name('timeout')}=SECONDS or Limits(timeout=SECONDS) (0: no limit)",
                )
            )

    def layer_problem(self, what: str, params: int, output: tuple[int, ...]) -> tuple[str, str, str] | None:
        """(code, message, hint) when one layer is too large to be real; checked before anything is allocated."""
        lim = self.limits
        if params > lim.max_layer_params:
            need = fmt_bytes(params * self.BYTES_PER_ELEMENT)
            msg = (
                f"{what}: this layer alone needs {need} of parameters ({params:,} parameters; "
                f"the limit is {lim.max_layer_params:,} per layer)"
            )
            return "E303", msg, how_to_raise("max_layer_params")
        elements = 1
        for d in output:
            elements *= d
        if elements > lim.max_activation:
            need = fmt_bytes(elements * self.BYTES_PER_ELEMENT)
            shape = "×".join(map(str, output))
            subject = "the input" if what == "input" else f"{what}: its output"
            msg = (
                f"{subject} {shape} needs {need} per sample ({elements:,} values; the limit is {lim.max_activation:,})"
            )
            return "E304", msg, how_to_raise("max_activation")
        return None
