"""The grammar's LALR tables as plain data (netdsl.syntax.tables): equal to Lark's, cached, and Lark-free checks.

The parse equality of the fast path and Lark's own path over every spec, fuzzed and
generated text is in tests/test_parse.py (the fast path runs on these tables).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from netdsl.syntax import tables
from netdsl.syntax.builder import BUILDER as _BUILDER
from netdsl.syntax.builder import RULE_NAMES as _RULE_NAMES
from netdsl.syntax.builder import NewlineFilter, grammar_path
from netdsl.syntax.lalr import Driver
from netdsl.syntax.lark_grammar import parser
from netdsl.syntax.lark_parse import parse_reference
from netdsl.syntax.parser import parse_text
from netdsl.syntax.tree import Module

ROOT = Path(__file__).resolve().parents[1]
NAMES = set(_RULE_NAMES)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "cache"
    monkeypatch.setenv("NETDSL_CACHE_DIR", str(directory))
    return directory


def _fresh() -> dict[str, object]:
    text = grammar_path().read_text(encoding="utf-8")
    return json.loads(json.dumps(tables.from_lark(parser(), text, NAMES)))  # type: ignore[no-any-return]


def test_loaded_tables_equal_a_fresh_extraction_from_lark(cache: Path) -> None:
    built = tables.load(grammar_path(), NAMES)  # a miss: built from Lark and written
    (written,) = cache.glob("tables-v*.json")
    assert built == _fresh()
    assert tables.load(grammar_path(), NAMES) == built  # a hit: read back
    assert json.loads(written.read_text(encoding="utf-8")) == built
    assert built["grammar"] == grammar_path().read_text(encoding="utf-8")
    assert set(built["lexer"]["keywords"]["NAME"]) >= {"net", "block", "if", "else", "repeat", "in"}  # type: ignore[index]


def test_a_driver_from_cached_tables_parses_every_spec_as_lark_does(cache: Path) -> None:
    tables.load(grammar_path(), NAMES)
    builders = {n: getattr(_BUILDER, n) for n in _RULE_NAMES}
    driver = Driver(tables.load(grammar_path(), builders), builders, NewlineFilter().process)
    from functools import partial

    from netdsl.errors import Span

    for path in sorted((ROOT / "specs").rglob("*.net")):
        text = path.read_text(encoding="utf-8")
        _BUILDER.file = str(path)
        try:
            module, _ = driver.parse(text, partial(Span, str(path)), 100)
        finally:
            _BUILDER.file = "<spec>"
        assert module == parse_reference(text, str(path)), path


@pytest.mark.parametrize(
    "content",
    [
        "not json {",
        json.dumps({"format": tables.FORMAT, "grammar": "block A {}"}),  # another grammar
        json.dumps([1, 2, 3]),
        "",
    ],
    ids=["garbage", "other-grammar", "wrong-shape", "empty"],
)
def test_a_stale_or_foreign_cache_file_is_rebuilt(cache: Path, content: str) -> None:
    first = tables.load(grammar_path(), NAMES)
    (path,) = cache.glob("tables-v*.json")
    path.write_text(content, encoding="utf-8")
    assert tables.load(grammar_path(), NAMES) == first
    assert json.loads(path.read_text(encoding="utf-8")) == first  # and written again


def test_unknown_builder_names_in_a_cache_file_are_refused(cache: Path) -> None:
    first = tables.load(grammar_path(), NAMES)
    (path,) = cache.glob("tables-v*.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    plan = next(p for p in data["plans"] if isinstance(p, list) and p[3] is not None)
    plan[3] = "__import__"
    path.write_text(json.dumps(data), encoding="utf-8")
    assert tables.load(grammar_path(), NAMES) == first


def test_a_cache_file_that_makes_no_driver_is_rebuilt(cache: Path) -> None:
    """A file that passes load's checks but holds a broken lexer: the driver is rebuilt from Lark."""
    from netdsl.syntax import parser as parse

    first = tables.load(grammar_path(), NAMES)
    (path,) = cache.glob("tables-v*.json")
    broken = {**first, "lexer": {**first["lexer"], "pattern": "("}}  # type: ignore[dict-item]
    path.write_text(json.dumps(broken), encoding="utf-8")
    parse._driver.cache_clear()
    try:
        assert isinstance(parse_text("net A {\n    input(3, 8, 8)\n    relu\n}\n", "t.net"), Module)
    finally:
        parse._driver.cache_clear()
    assert json.loads(path.read_text(encoding="utf-8")) == first


def test_older_tables_are_removed_and_an_unwritable_cache_still_works(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache.mkdir(parents=True)
    stale = cache / "tables-v0-00000000.json"
    stale.write_text("{}", encoding="utf-8")
    tables.load(grammar_path(), NAMES)
    assert not stale.exists() and len(list(cache.glob("tables-v*.json"))) == 1
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv("NETDSL_CACHE_DIR", str(blocker / "sub"))  # cannot be created: reading and writing fail
    assert tables.load(grammar_path(), NAMES) == _fresh()


def test_cache_dir_follows_xdg_and_the_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("NETDSL_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert tables.cache_dir() == tmp_path / "netdsl"
    monkeypatch.setenv("NETDSL_CACHE_DIR", str(tmp_path / "x"))
    assert tables.cache_dir() == tmp_path / "x"
    for name in ("NETDSL_CACHE_DIR", "XDG_CACHE_HOME", "HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(os.path, "expanduser", lambda p: p)  # a process with no home directory
    assert tables.cache_dir() is None
    monkeypatch.chdir(tmp_path)
    assert tables.load(grammar_path(), NAMES) == _fresh()  # built every time, and nothing written here
    assert not (tmp_path / "~").exists()


@pytest.mark.parametrize(
    "body",
    [
        "import netdsl\nassert not [d for d in netdsl.check('specs/resnet50.net') if d.is_error]",
        "from netdsl.cli import main\nassert main(['shapes', 'specs/resnet50.net']) == 0",
    ],
)
def test_checks_do_not_import_lark_once_the_tables_are_cached(body: str, tmp_path: Path) -> None:
    env = {**os.environ, "NETDSL_CACHE_DIR": str(tmp_path)}
    code = f"import sys\n{body}\nprint(sorted(m for m in sys.modules if m.split('.')[0] == 'lark'))"
    runs = [
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
        for _ in range(2)
    ]
    assert runs[0].stdout.strip().splitlines()[-1] != "[]"  # the first run builds the tables with Lark
    assert runs[1].stdout.strip().splitlines()[-1] == "[]"


def test_syntax_errors_still_come_from_lark(tmp_path: Path) -> None:
    """In a fresh process with the tables cached, only a syntax error brings Lark in (for its diagnostic)."""
    d = parse_text("net A {\n  conv2d(64, 3\n  relu\n}\n", "t.net")
    assert not isinstance(d, Module) and d.code in ("E001", "E002")
    env = {**os.environ, "NETDSL_CACHE_DIR": str(tmp_path)}
    code = (
        "import sys\nfrom netdsl.syntax.parser import parse_text\nparse_text('net A { relu }', 'ok.net')\n"
        "before = 'lark' in sys.modules\nd = parse_text('net A {\\n  conv2d(64, 3\\n  relu\\n}\\n', 't.net')\n"
        "print(before, 'lark' in sys.modules, d.code)"
    )
    runs = [
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
        for _ in range(2)  # the first run builds the cached tables (with Lark)
    ]
    before, after, diag = runs[1].stdout.split()
    assert (before, after) == ("False", "True") and diag in ("E001", "E002")
