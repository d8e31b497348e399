"""Imports: relative paths, the shipped library, confinement to allowed roots, cycles, failures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from netdsl.imports import load, shipped_specs
from netdsl.pipeline import Analysis, analyze

NET = "net Main {{\n    input(3, 32, 32)\n    {body}\n}}\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def errors(a: Analysis) -> list[tuple[str, str, int, int]]:
    """(code, file name, line, col) of every error."""
    return [(d.code, Path(d.span.file).name if d.span else "", d.span.line if d.span else 0,
             d.span.col if d.span else 0) for d in a.errors]  # fmt: skip


def test_relative_imports_resolve_from_the_importing_file(tmp_path: Path) -> None:
    write(tmp_path / "blocks" / "conv.net", 'import "act.net"\nblock ConvAct(c) { conv2d(c, 3, padding=1); Act }\n')
    write(tmp_path / "blocks" / "act.net", "block Act { relu }\n")
    main = write(tmp_path / "main.net", 'import "blocks/conv.net"\n' + NET.format(body="ConvAct(8)"))
    a = analyze(main)
    assert a.ok, errors(a)
    assert a.shapes is not None and a.shapes.output == (8, 32, 32)


def test_shipped_library_is_the_fallback(tmp_path: Path) -> None:
    main = write(
        tmp_path / "main.net", 'import "lib/resnet.net"\n' + NET.format(body="inline ResNet([1, 1, 1, 1], false, 10)")
    )
    a = analyze(main)
    assert a.ok, errors(a)
    assert (shipped_specs() / "lib" / "resnet.net").is_file()
    assert any(Path(f).resolve() == (shipped_specs() / "lib" / "resnet.net").resolve() for f in a.sources)
    assert a.shapes is not None and a.shapes.output == (10,)


def test_named_library_prefix(tmp_path: Path) -> None:
    main = write(tmp_path / "main.net", 'import "netdsl:lib/resnet.net"\n' + NET.format(body="Basic(64)"))
    assert analyze(main).ok
    bad = write(tmp_path / "bad.net", 'import "netdls:lib/resnet.net"\n' + NET.format(body="relu"))
    a = analyze(bad)
    assert errors(a) == [("E201", "bad.net", 1, 1)]
    assert a.errors[0].hint == "did you mean `netdsl`?"


def test_a_local_file_shadows_the_library(tmp_path: Path) -> None:
    write(tmp_path / "lib" / "resnet.net", "block Basic(planes) { conv2d(planes, 1) }\n")
    main = write(tmp_path / "main.net", 'import "lib/resnet.net"\n' + NET.format(body="Basic(5)"))
    a = analyze(main)
    assert a.ok and a.shapes is not None and a.shapes.output == (5, 32, 32)


def test_import_not_found_points_at_the_import(tmp_path: Path) -> None:
    main = write(tmp_path / "main.net", '# blocks\nimport "lib/nope.net"\n' + NET.format(body="relu"))
    a = analyze(main)
    assert errors(a) == [("E201", "main.net", 2, 1)]
    assert "lib/nope.net" in a.errors[0].message


@pytest.mark.parametrize("target", ["../outside.net", "../../outside.net", "sub/../../outside.net"])
def test_relative_escape_is_refused_even_when_the_file_exists(tmp_path: Path, target: str) -> None:
    write(tmp_path / "outside.net", "block Secret { relu }\n")
    write(tmp_path.parent / "outside.net", "block Secret { relu }\n")
    main = write(tmp_path / "spec" / "main.net", f'import "{target}"\n' + NET.format(body="Secret"))
    a = analyze(main)
    assert errors(a) == [("E202", "main.net", 1, 1)]


def test_escape_to_a_missing_file_is_still_refused_not_probed(tmp_path: Path) -> None:
    main = write(tmp_path / "main.net", 'import "../../etc/none.net"\n' + NET.format(body="relu"))
    assert errors(analyze(main)) == [("E202", "main.net", 1, 1)]


def test_absolute_paths_inside_the_tree_are_allowed_outside_refused(tmp_path: Path) -> None:
    lib = write(tmp_path / "spec" / "blocks.net", "block B { relu }\n")
    outside = write(tmp_path / "elsewhere.net", "block B { relu }\n")
    inside = write(tmp_path / "spec" / "in.net", f'import "{lib}"\n' + NET.format(body="B"))
    assert analyze(inside).ok
    out = write(tmp_path / "spec" / "out.net", f'import "{outside}"\n' + NET.format(body="B"))
    assert errors(analyze(out)) == [("E202", "out.net", 1, 1)]
    etc = write(tmp_path / "spec" / "etc.net", 'import "/etc/passwd"\n' + NET.format(body="relu"))
    assert errors(analyze(etc)) == [("E202", "etc.net", 1, 1)]


def test_library_prefix_cannot_escape_the_library(tmp_path: Path) -> None:
    main = write(tmp_path / "main.net", 'import "netdsl:../../../../etc/passwd"\n' + NET.format(body="relu"))
    assert errors(analyze(main)) == [("E202", "main.net", 1, 1)]


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_symlinks_are_followed_inside_and_refused_outside(tmp_path: Path) -> None:
    write(tmp_path / "secret" / "s.net", "block S { relu }\n")
    write(tmp_path / "spec" / "real" / "r.net", "block R { tanh }\n")
    (tmp_path / "spec" / "out.net").symlink_to(tmp_path / "secret" / "s.net")
    (tmp_path / "spec" / "in.net").symlink_to(tmp_path / "spec" / "real" / "r.net")
    main = write(tmp_path / "spec" / "main.net", 'import "in.net"\n' + NET.format(body="R"))
    assert analyze(main).ok
    bad = write(tmp_path / "spec" / "bad.net", 'import "out.net"\n' + NET.format(body="S"))
    assert errors(analyze(bad)) == [("E202", "bad.net", 1, 1)]


def test_import_cycles_are_reported_once_with_the_chain(tmp_path: Path) -> None:
    write(tmp_path / "a.net", 'import "b.net"\nblock A { relu }\n' + NET.format(body="A; B"))
    write(tmp_path / "b.net", '\nimport "c.net"\nblock B { relu }\n')
    write(tmp_path / "c.net", 'import "a.net"\nblock C { relu }\n')
    a = analyze(tmp_path / "a.net")
    assert errors(a) == [("E203", "c.net", 1, 1)]
    assert "a.net → b.net → c.net → a.net" in a.errors[0].message
    me = write(tmp_path / "self.net", 'import "self.net"\n' + NET.format(body="relu"))
    assert errors(analyze(me)) == [("E203", "self.net", 1, 1)]


def test_diamond_imports_load_each_file_once(tmp_path: Path) -> None:
    write(tmp_path / "d.net", "block D { relu }\n")
    write(tmp_path / "b.net", 'import "d.net"\nblock B { D }\n')
    write(tmp_path / "c.net", 'import "d.net"\nblock C { D }\n')
    main = write(tmp_path / "a.net", 'import "b.net"\nimport "c.net"\n' + NET.format(body="B; C"))
    loaded = load(main)
    assert not loaded.diagnostics
    assert sorted(Path(m.file).name for m in loaded.modules) == ["a.net", "b.net", "c.net", "d.net"]
    assert analyze(main).ok


def test_an_imported_files_net_is_ignored(tmp_path: Path) -> None:
    write(tmp_path / "other.net", "block B { relu }\n" + NET.format(body="B"))
    main = write(tmp_path / "main.net", 'import "other.net"\n' + NET.format(body="B"))
    a = analyze(main)
    assert a.ok and a.net is not None and a.net.name == "Main"


def test_same_block_in_two_files(tmp_path: Path) -> None:
    write(tmp_path / "x.net", "block B { relu }\n")
    main = write(tmp_path / "main.net", 'import "x.net"\nblock B { tanh }\n' + NET.format(body="B"))
    assert [e[0] for e in errors(analyze(main))] == ["E204"]


def test_unreadable_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "latin1.net").write_bytes(b"block B { relu } # caf\xe9\n")
    main = write(tmp_path / "main.net", 'import "latin1.net"\n' + NET.format(body="B"))
    assert errors(analyze(main)) == [("E212", "main.net", 1, 1)]
    monkeypatch.setenv("NETDSL_MAX_FILE_BYTES", "20")
    assert [e[0] for e in errors(analyze(main))] == ["E211"]
    monkeypatch.delenv("NETDSL_MAX_FILE_BYTES")
    missing = analyze(tmp_path / "nothere.net")
    assert [(d.code, d.span) for d in missing.errors] == [("E201", None)]


def test_windows_files_read_as_any_other(tmp_path: Path) -> None:
    # A UTF-8 byte-order mark and CRLF line ends, as Windows editors write them.
    (tmp_path / "w.net").write_bytes(b"\xef\xbb\xbfnet W {\r\n    input(3, 8, 8)\r\n    conv2d(4, 3)  # c\r\n}\r\n")
    a = analyze(tmp_path / "w.net")
    assert a.ok and a.shapes is not None and a.shapes.output == (4, 6, 6)
    (tmp_path / "e.net").write_bytes(b"\xef\xbb\xbfnet W {\r\n    input(3, 8, 8)\r\n    cnov2d(4, 3)\r\n}\r\n")
    assert errors(analyze(tmp_path / "e.net")) == [("E101", "e.net", 3, 5)]
