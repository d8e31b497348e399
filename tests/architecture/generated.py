"""A seeded generator of small specs that exercise every dataflow construct the schedule resolves.

Captures and ``@uses``, inline blocks (with their own captures), ``if`` arms decided by the
input shape, labelled and unlabelled groups, labelled repeats and merges (add, concat), nested.
Every spec checks clean: channel counts are tracked so merges always agree.
"""

from __future__ import annotations

import random

C = 8  # every value keeps C channels, except inside a concat path, which is restored by a 1×1 conv


class _Gen:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.n = 0
        self.inlined = False

    def label(self) -> str:
        self.n += 1
        return f"n{self.n}"

    def layer(self) -> str:
        return self.rng.choice(
            ["relu", "sigmoid", f"conv2d({C}, 3, padding=1)", "batchnorm", f"conv2d({C}, 1)", "identity"]
        )

    def stmts(self, depth: int, caps: list[str], count: int) -> list[str]:
        out: list[str] = []
        for _ in range(count):
            out.append(self.stmt(depth, caps))
        return out

    def stmt(self, depth: int, caps: list[str]) -> str:
        r = self.rng.random()
        if depth <= 0 or r < 0.35:
            text = f"{self.label()}: {self.layer()}" if self.rng.random() < 0.5 else self.layer()
        elif r < 0.45 and caps:
            text = f"@{self.rng.choice(caps)}"
        elif r < 0.55:
            # A labelled group is a module of its own: it sees only its own captures.
            text = f"{self.label()}: {{ {'; '.join(self.stmts(depth - 1, [], 2))} }}"
        elif r < 0.62:
            text = f"{{ {'; '.join(self.stmts(depth - 1, caps, 2))} }}"
        elif r < 0.7:
            text = f"{self.label()}: repeat 2 {{ {self.layer()}; {self.layer()} }}"
        elif r < 0.78:
            # inline splices a, b, m into the caller's module: once per net, or the names would clash
            inline, self.inlined = not self.inlined and self.rng.random() < 0.5, True
            text = "inline Pair()" if inline else f"{self.label()}: Pair()"
        elif r < 0.86:
            text = f"{self.label()}: Choose({self.rng.choice([4, 8])})"
        else:
            text = self.merge(depth, caps)
        if self.rng.random() < 0.3 and not text.startswith("@"):
            cap = f"v{self.n}_{len(caps)}"
            caps.append(cap)
            text += f" -> {cap}"
        return text

    def merge(self, depth: int, caps: list[str]) -> str:
        kind = self.rng.choice(["add", "concat"])
        paths = []
        for _ in range(self.rng.choice([2, 3])):
            pick = self.rng.random()
            if pick < 0.3:
                paths.append("{}")
            elif pick < 0.5 and caps:
                paths.append(f"@{self.rng.choice(caps)}")
            else:
                paths.append(f"{{ {'; '.join(self.stmts(depth - 1, list(caps), 2))} }}")
        body = "\n".join(f"        {p}" for p in paths)
        tail = f"; conv2d({C}, 1)" if kind == "concat" else ""
        return f"{{ {self.label()}: {kind} {{\n{body}\n    }}{tail} }}"


PRELUDE = f"""block Pair() {{
    a: relu -> t
    b: conv2d({C}, 3, padding=1)
    m: add {{
        @t
        {{}}
    }}
}}

block Choose(c) {{
    if in.c == c {{
        x: relu
    }} else {{
        y: conv2d({C}, 1); z: sigmoid
    }}
}}
"""


def spec(seed: int) -> str:
    """The text of generated spec number ``seed``."""
    gen = _Gen(seed)
    body = gen.stmts(3, [], gen.rng.randint(3, 7))
    lines = "\n    ".join(body)
    return f"{PRELUDE}\nnet G{seed}() {{\n    input({C}, 6, 6)\n    {lines}\n}}\n"
