"""The formatter's layout rules, one example each (the input on the left of each pair, the canonical form right)."""

from __future__ import annotations

import re

import pytest

from netdsl.formatter import LINE_LENGTH, FormatError, format_text


def test_spacing() -> None:
    src = (
        "net X(a=1,b=[1,2,]){input(3,32,32)\nconv2d(a*2**-1,k=3,p=-1,bias=true);relu;;\nlet q=a if b[0]>1 else -2\n}\n"
    )
    assert format_text(src) == (
        "net X(a=1, b=[1, 2,]) {\n"
        "    input(3, 32, 32)\n"
        "    conv2d(a * 2 ** -1, k=3, p=-1, bias=true); relu\n"
        "    let q = a if b[0] > 1 else -2\n"
        "}\n"
    )


def test_labels_captures_uses_and_groups() -> None:
    src = (
        "block B(c){ if in . c!=c {proj :conv2d( c,1 )} else{ proj:identity }\n"
        "add{ { } ; @ in }\nx : repeat 2 as i lab[ i+1 ] : conv2d(c,(1,3),padding=(0,1))->cap\n@cap\n}\n"
    )
    assert format_text(src) == (
        "block B(c) {\n"
        "    if in.c != c { proj: conv2d(c, 1) } else { proj: identity }\n"
        "    add { {}; @in }\n"
        "    x: repeat 2 as i lab[i + 1]: conv2d(c, (1, 3), padding=(0, 1)) -> cap\n"
        "    @cap\n"
        "}\n"
    )


def test_indentation_follows_brackets() -> None:
    src = (
        "block R(c) {\nadd {\n{ conv1: conv2d(c, 3); relu\nconv2: conv2d(c, 3) }\n{}\n}\n"
        "let t = [(1, 2),\n(3, 4)]\nconv2d(\nc, 3,\npadding=1)\nlinear(c,\n)\n}\n"
    )
    assert format_text(src) == (
        "block R(c) {\n"
        "    add {\n"
        "        { conv1: conv2d(c, 3); relu\n"
        "          conv2: conv2d(c, 3) }\n"  # a hanging group continues under its first statement
        "        {}\n"
        "    }\n"
        "    let t = [(1, 2),\n"
        "             (3, 4)]\n"  # under what follows the bracket
        "    conv2d(\n"
        "        c, 3,\n"  # a bracket that ends its line: one level deeper
        "        padding=1)\n"
        "    linear(c,\n"
        "    )\n"  # a closer that starts a line: back to the opening line
        "}\n"
    )


def test_headers_else_and_bodies() -> None:
    src = (
        "net X(n=1)\n{ input(3, 8, 8)\nif n > 1\n{ relu }\nelif n\nand true { relu\nrelu }\nelse\n{\nrelu\n}\nrelu }\n"
    )
    assert format_text(src) == (
        "net X(n=1) {\n"
        "    input(3, 8, 8)\n"
        "    if n > 1 { relu } elif n and true {\n"
        "        relu\n"
        "        relu\n"
        "    } else {\n"
        "        relu\n"
        "    }\n"
        "    relu\n"
        "}\n"
    )


def test_blank_lines() -> None:
    src = "\n\n# a library\n\n\n\nblock A {\n\n  relu\n\n\n  relu\n\n}\n\n\n\nblock B { relu }\n\n\n"
    assert format_text(src) == "# a library\n\nblock A {\n    relu\n\n    relu\n}\n\nblock B { relu }\n"


def test_semicolons() -> None:
    src = "block A {; relu;; relu; }\nblock B {\n  relu;\n  ;\n  relu\n}\nblock C { { relu; }; {;} }\n"
    assert format_text(src) == "block A { relu; relu }\nblock B {\n    relu\n    relu\n}\nblock C { { relu }; {} }\n"


def test_comments_are_kept_where_they_are() -> None:
    src = (
        "# head\n"
        "net X  # after the header\n"
        "{\n"
        "  input(3, 8, 8)   # input\n"
        "      # a line of its own\n"
        "  conv2d(4,   # inside the brackets\n"
        "     3)\n"
        "  if true {\n"
        "    relu\n"
        "  }  # before else\n"
        "  # between } and else\n"
        "  else { relu }\n"
        "  relu;  # after a ;\n"
        "  # last in the body\n"
        "}  # after the net\n"
        "# end of file"
    )
    out = format_text(src)
    assert out == (
        "# head\n"
        "net X  # after the header\n"
        "{\n"
        "    input(3, 8, 8)  # input\n"
        "    # a line of its own\n"
        "    conv2d(4,  # inside the brackets\n"
        "           3)\n"
        "    if true {\n"
        "        relu\n"
        "    }  # before else\n"
        "    # between } and else\n"
        "    else { relu }\n"
        "    relu  # after a ;\n"
        "    # last in the body\n"
        "}  # after the net\n"
        "# end of file\n"
    )
    assert re.findall(r"#.*", out) == [c.rstrip() for c in re.findall(r"#.*", src)]


def test_trailing_comments_align_in_runs() -> None:
    src = "net X {\n input(3, 8, 8) # a\n conv2d(4, 3, padding=1) # b\n relu # c\n\n relu # d\n}\n"
    assert format_text(src) == (
        "net X {\n"
        "    input(3, 8, 8)           # a\n"
        "    conv2d(4, 3, padding=1)  # b\n"
        "    relu                     # c\n"
        "\n"
        "    relu  # d\n"
        "}\n"
    )


def test_long_semicolon_groups_split() -> None:
    layers = "; ".join(f"conv2d({n}, 3, padding=1)" for n in range(10, 20))
    group = "; ".join(f"conv2d({n}, kernel_size=3, padding=1)" for n in range(3))
    assert len(f"        {group}") <= LINE_LENGTH < len(f"    head: {{ {group} }}")
    out = format_text(f"net X {{\n    input(3, 8, 8)\n    {layers}\n    head: {{ {group} }}\n}}\n")
    lines = out.splitlines()
    assert all(len(line) <= LINE_LENGTH for line in lines)
    assert lines[2:5] == [
        "    conv2d(10, 3, padding=1)",
        "    conv2d(11, 3, padding=1)",
        "    conv2d(12, 3, padding=1)",
    ]
    assert lines[-4:] == ["    head: {", f"        {group}", "    }", "}"]  # opened, the group's body fits
    assert format_text(out) == out
    short = "net X {\n    input(3, 8, 8)\n    conv2d(10, 3); relu; maxpool(2)\n}\n"
    assert format_text(short) == short


def test_empty_and_comment_only_files() -> None:
    assert format_text("") == ""
    assert format_text("  \n\n\t\n") == ""
    assert format_text("# nothing here   \n\n\n# yet") == "# nothing here\n\n# yet\n"


def test_crlf_and_tabs() -> None:
    src = "net X {\r\n\tinput(3, 8, 8)\t# tab\r\n\r\n\r\n\trelu\r\n}\r\n"
    assert format_text(src) == "net X {\n    input(3, 8, 8)  # tab\n\n    relu\n}\n"


@pytest.mark.parametrize(
    ("src", "line", "column"),
    [
        ("net X {\n  conv2d(1,\n}\n", 2, 12),
        ("net X {\n  input(3, 8, 8)\n  relu §\n}\n", 3, 8),
        ("net X {\n  relu\n", 2, 7),
        ("net X { let a = 'open }\n", 1, 17),
    ],
)
def test_syntax_errors_are_located(src: str, line: int, column: int) -> None:
    with pytest.raises(FormatError) as info:
        format_text(src)
    err = info.value
    assert (err.line, err.column) == (line, column), err
    assert err.message.startswith("error[E00") and err.diagnostic is not None
    assert str(err).startswith(f"{line}:{column}: ")


def test_a_long_hanging_group_splits_under_itself() -> None:
    group = "; ".join(f"c{n}: conv2d({n}, kernel_size=3, padding=1)" for n in range(4))
    src = f"block B {{\n    add {{\n        {{ {group}\n          relu }}\n        {{}}\n    }}\n}}\n"
    out = format_text(src)
    assert out.splitlines()[2:7] == [
        "        { c0: conv2d(0, kernel_size=3, padding=1)",
        "          c1: conv2d(1, kernel_size=3, padding=1)",
        "          c2: conv2d(2, kernel_size=3, padding=1)",
        "          c3: conv2d(3, kernel_size=3, padding=1)",
        "          relu }",
    ]
    assert format_text(out) == out


def test_a_statement_over_several_lines_stands_alone() -> None:
    src = "block A(k) {\n  relu; features: {\n    relu\n  }; relu; relu\n  if k { relu\n  } else { relu }; relu\n}\n"
    assert format_text(src) == (
        "block A(k) {\n"
        "    relu\n"
        "    features: {\n"
        "        relu\n"
        "    }\n"
        "    relu; relu\n"
        "    if k {\n"
        "        relu\n"
        "    } else { relu }\n"
        "    relu\n"
        "}\n"
    )
