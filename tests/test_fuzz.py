"""Fuzzing the front end: whatever the text, a result or netdsl diagnostics; never an exception, never a hang.

Seeded and derandomized, a few hundred inputs in all: specs derived from netdsl's
own grammar (``hypothesis.extra.lark``), small well-formed nets that reach shape
inference and the meta build, and token-level mutations of the shipped specs.
The character-level mangling test lives in ``test_diagnostics.py``; the long run
is ``tests/fuzz/run_long.py --minutes N``. Each input goes through
``fuzz.generators.exercise`` (analyze, render the diagnostics, and when it checks
clean build on the meta device and draw it), which raises exactly on a bug.
"""

from __future__ import annotations

import signal
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fuzz.generators import (
    SMALL_SPECS,
    SPECS,
    exercise,
    grammar_specs,
    mutate,
    mutation_ops,
    semantic_specs,
    tokens_of,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netdsl.cli import main
from netdsl.limits import Limits

ROOT = Path(__file__).resolve().parent.parent
WORK = Path(tempfile.mkdtemp(prefix="netdsl-fuzz-"))
LIMITS = Limits(timeout=10)  # the front end's own guard; the alarm below is the test's
SEEN: Counter[str] = Counter()  # what the inputs reached, asserted at the end

_FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)


def fuzz(examples: int) -> settings:
    return settings(_FUZZ, max_examples=examples)


class Hang(Exception):
    """An input took longer than any input may."""


@contextmanager
def hard_limit(seconds: int) -> Iterator[None]:
    """Fail the example if it runs too long (the test's own guard; netdsl itself never uses signals)."""

    def expire(signum: int, frame: object) -> None:
        raise Hang(f"no result after {seconds} s")

    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def run(text: str, source: str) -> None:
    with hard_limit(30):
        out = exercise(text, WORK / "fuzz.net", LIMITS)
    SEEN[f"{source}:{out.stage}"] += 1
    SEEN[f"{source}:past the parser"] += out.stage != "diagnostics" or any(c[:3] != "E00" for c in out.codes)
    SEEN.update(out.codes)


@fuzz(120)
@given(st.one_of(grammar_specs("start"), grammar_specs("net_def")))
def test_grammar_derived_specs(text: str) -> None:
    run(text, "grammar")


@fuzz(100)
@given(semantic_specs())
def test_well_formed_nets_reach_the_build(text: str) -> None:
    run(text, "semantic")


@fuzz(100)
@given(
    st.sampled_from([*SMALL_SPECS, ROOT / "specs" / "resnet50.net", ROOT / "specs" / "googlenet.net"]), mutation_ops()
)
def test_token_mutations_of_the_shipped_specs(spec: Path, ops: list[tuple[str, int, int]]) -> None:
    run(mutate(tokens_of(spec), ops), "mutation")


def test_the_fuzzers_reached_every_stage() -> None:
    """Run last in this file: the generators are only worth their time if they get past the parser."""
    if not SEEN:
        pytest.skip("the fuzz tests did not run in this session")
    assert SEEN["grammar:past the parser"] > 50 and SEEN["semantic:built"] > 20 and SEEN["mutation:built"] >= 2
    assert SEEN["mutation:past the parser"] > 30
    assert len([c for c in SEEN if c[:1] in "EW" and c[1:].isdigit()]) >= 15  # many distinct diagnostics
    assert {"E002", "E101", "E301"} <= set(SEEN)


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_every_shipped_spec_survives_each_kind_of_mutation(spec: Path) -> None:
    """One deterministic mutation of each kind on every shipped spec, through the CLI too."""
    tokens = tokens_of(spec)
    for i, op in enumerate(("delete", "duplicate", "swap", "number", "name", "string", "insert", "keyword", "line")):
        text = mutate(tokens, [(op, 7919 * (i + 1), 104729 * (i + 1))])
        run(text, "each")
    path = WORK / f"{spec.stem}.net"
    path.write_text(mutate(tokens, [("delete", 31, 0), ("number", 5, 13)]), encoding="utf-8")
    with hard_limit(30):
        assert main(["check", str(path), "--no-color"]) in (0, 1)
