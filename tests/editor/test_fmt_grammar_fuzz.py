"""The formatter on texts derived from the grammar itself and on generated nets (``tests/fuzz/generators.py``).

Whatever parses must format without the formatter's own check refusing its output (that check
compares the syntax trees before and after, and the comments), and the output must format to itself.
"""

from __future__ import annotations

import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netdsl.formatter import FormatError, format_text

TESTS = Path(__file__).resolve().parents[1]
if str(TESTS) not in sys.path:  # the shared fuzz generators live in tests/fuzz
    sys.path.insert(0, str(TESTS))

from fuzz.generators import grammar_specs, semantic_specs  # noqa: E402

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck), database=None)


def _check(text: str) -> None:
    try:
        out = format_text(text)
    except FormatError as err:
        assert err.diagnostic is not None and "internal" not in err.message, err  # only the parser's complaints
        return
    assert format_text(out) == out


@FUZZ
@given(grammar_specs())
def test_grammar_derivations(text: str) -> None:
    _check(text)


@FUZZ
@given(semantic_specs(), st.integers(0, 3))
def test_generated_nets(text: str, seed: int) -> None:
    from fmt_fuzz import respace

    _check(text)
    _check(respace(text, seed))  # semantic_specs() parse, so respace() can read them
