"""Plugins: discovery (entry points, --plugin, NETDSL_PLUGINS, autoload off), `requires`, attribution of
plugin failures, `netdsl layers`, and the example plugin examples/plugins/netdsl-se with SE-ResNet-50.

The example plugin is pip-installed once (offline, no build isolation) into a temporary --target
directory; CLI tests run `python -m netdsl` in subprocesses with that directory on PYTHONPATH, so the
venv is never modified and no plugin leaks into other tests. The in-process tests load it explicitly
and unload it afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import torch
from torch import nn

from netdsl.imports import library_roots
from netdsl.layers import plugins
from netdsl.registry import REGISTRY

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "plugins" / "netdsl-se"
SE_RESNET50 = REPO / "examples" / "se_resnet50.net"
TEST_PLUGINS = REPO / "tests" / "plugins"


# --------------------------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def se_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example plugin pip-installed into a fresh directory (built from a copy: no build/ in the repo)."""
    root = tmp_path_factory.mktemp("netdsl-se")
    src, site = root / "src", root / "site"
    shutil.copytree(EXAMPLE, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
           "--disable-pip-version-check", "--target", str(site), str(src)]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert (site / "netdsl_se" / "lib" / "se_resnet.net").is_file(), "the block library must be packaged"
    return site


def netdsl(*args: str, path: Sequence[Path] = (), env: dict[str, str] | None = None,
           cwd: Path = REPO) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """Run the CLI in a fresh interpreter with only ``path`` added to PYTHONPATH and no plugin settings."""
    full = {k: v for k, v in os.environ.items() if k not in ("NETDSL_PLUGINS", plugins.DISABLE_ENV, "PYTHONPATH")}
    full.update({"NO_COLOR": "1", "PYTHONPATH": os.pathsep.join(map(str, path)), **(env or {})})
    return subprocess.run([sys.executable, "-m", "netdsl", *args], capture_output=True, text=True, env=full,
                          cwd=cwd, timeout=120)  # fmt: skip


def spec(tmp_path: Path, text: str, name: str = "t.net") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def fake_dist(site: Path, name: str, entry_point: str) -> None:
    """An installed distribution as importlib.metadata sees it: a dist-info with an entry point."""
    info = site / f"{name.replace('-', '_')}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[netdsl.plugins]\n{entry_point}\n")


# A small spec using both plugin kinds: line numbers matter to the tests below.
SE_SPEC = """\
requires "netdsl-se"
net Small() {
    input(64, 7, 7)
    conv2d(64, 3, padding=1)
    se(16)
    mish
}
"""


# --------------------------------------------------------------------------------------------- discovery


def test_installed_plugin_is_discovered_without_flags(se_site: Path, tmp_path: Path) -> None:
    done = netdsl("shapes", str(spec(tmp_path, SE_SPEC)), "--format", "json", path=[se_site])
    assert done.returncode == 0, done.stderr
    rows = {r["name"]: r for r in json.loads(done.stdout)["layers"]}
    # SE on 64 channels with r = 16: 1×1 convs 64→4 and 4→64 with biases.
    assert rows["1"]["kind"] == "se" and rows["1"]["output"] == [64, 7, 7]
    assert rows["1"]["params"] == 64 * 4 + 4 + 4 * 64 + 64
    assert rows["1"]["macs"] == 64 * 4 + 4 * 64
    assert rows["2"]["kind"] == "mish" and rows["2"]["params"] == 0

    listing = netdsl("layers", path=[se_site])
    assert listing.returncode == 0, listing.stderr
    se_row = next(line for line in listing.stdout.splitlines() if line.split()[:1] == ["se"])
    assert "plugin netdsl-se" in se_row and "Squeeze-and-excitation" in se_row
    assert "plugin netdsl-se (entry point netdsl-se = netdsl_se): mish, se; block library netdsl_se" in listing.stdout


@pytest.mark.parametrize("how", ["--plugin", "NETDSL_PLUGINS"])
def test_explicit_plugin_with_autoload_off(se_site: Path, tmp_path: Path, how: str) -> None:
    path = str(spec(tmp_path, SE_SPEC))
    env = {plugins.DISABLE_ENV: "1"}
    if how == "--plugin":
        done = netdsl("check", path, "--plugin", "netdsl_se", path=[se_site], env=env)
    else:
        done = netdsl("check", path, path=[se_site], env={**env, "NETDSL_PLUGINS": " netdsl_se ,"})
    # `requires "netdsl-se"` is satisfied by the module netdsl_se: names match up to case and -/_.
    assert done.returncode == 0, done.stderr
    assert "ok: net Small, 3 layers" in done.stdout


def test_autoload_off_leaves_installed_plugin_unloaded(se_site: Path, tmp_path: Path) -> None:
    done = netdsl("check", str(spec(tmp_path, SE_SPEC)), path=[se_site], env={plugins.DISABLE_ENV: "1"}, cwd=tmp_path)
    assert done.returncode == 1
    err = done.stderr
    assert "t.net:1:1: error[E150]: this spec requires plugin `netdsl-se`, which is installed but not loaded" in err
    assert "pass --plugin netdsl_se" in err
    assert "t.net:5:5: error[E101]: unknown layer or block `se`" in err
    assert "layer `se` may be provided by plugin `netdsl-se`, which is not loaded" in err
    assert "Traceback" not in err


def test_missing_required_plugin_is_reported_at_the_requires_line(tmp_path: Path) -> None:
    done = netdsl("check", str(spec(tmp_path, SE_SPEC)), cwd=tmp_path)
    assert done.returncode == 1
    assert "t.net:1:1: error[E150]: this spec requires plugin `netdsl-se`, which is not installed" in done.stderr
    assert "hint: pip install netdsl-se" in done.stderr
    assert "layer `se` may be provided by plugin `netdsl-se`, which is not installed" in done.stderr
    # A near miss of a known kind is a typo, not a missing plugin.
    typo = netdsl("check", str(spec(tmp_path, SE_SPEC.replace("conv2d", "conv2dd"))), cwd=tmp_path)
    assert "t.net:4:5: error[E101]: unknown layer or block `conv2dd`\n" in typo.stderr
    assert "hint: did you mean `conv2d`?" in typo.stderr


def test_requires_matches_names_loosely(se_site: Path, tmp_path: Path) -> None:
    text = SE_SPEC.replace('requires "netdsl-se"', 'requires "NetDSL_SE", "netdsl.se"')
    done = netdsl("check", str(spec(tmp_path, text)), path=[se_site])
    assert done.returncode == 0, done.stderr


def test_entry_point_naming_a_function(tmp_path: Path) -> None:
    fake_dist(tmp_path, "late-dist", "late = late_register:register")
    done = netdsl("layers", "late_identity", path=[tmp_path, TEST_PLUGINS])
    assert done.returncode == 0, done.stderr
    assert "origin:     plugin late-dist" in done.stdout
    # Importing the module alone registers nothing: the function did it.
    alone = netdsl("layers", "late_identity", "--plugin", "late_register", path=[TEST_PLUGINS],
                   env={plugins.DISABLE_ENV: "1"})  # fmt: skip
    assert alone.returncode == 1 and "unknown layer kind `late_identity`" in alone.stderr


# --------------------------------------------------------------------------------------------- failures


def test_duplicate_of_a_builtin_names_both_sources() -> None:
    done = netdsl("check", "specs/lenet5.net", "--plugin", "dup_relu", path=[TEST_PLUGINS])
    assert done.returncode == 3
    assert "layer `relu` is registered twice: by built-in and by plugin dup_relu" in done.stderr
    assert "Traceback" not in done.stderr


def test_duplicate_between_plugins_names_both(se_site: Path) -> None:
    done = netdsl("layers", "--plugin", "se_clash", path=[se_site, TEST_PLUGINS])
    assert done.returncode == 3
    assert "layer `se` is registered twice: by plugin netdsl-se and by plugin se_clash" in done.stderr


def test_plugin_failing_on_import_exits_3_naming_it() -> None:
    done = netdsl("check", "specs/lenet5.net", "--plugin", "broken_plugin", path=[TEST_PLUGINS])
    assert done.returncode == 3
    assert done.stderr.startswith("netdsl: error: plugin `broken_plugin` (--plugin) failed to load: RuntimeError: "
                                  "cannot find the fused kernels for this platform")  # fmt: skip
    assert "Traceback" not in done.stderr
    missing = netdsl("check", "specs/lenet5.net", "--plugin", "no_such_plugin_module")
    assert missing.returncode == 3 and "ModuleNotFoundError: No module named 'no_such_plugin_module'" in missing.stderr


def test_broken_installed_plugin_can_be_skipped(tmp_path: Path) -> None:
    fake_dist(tmp_path, "broken-dist", "broken = broken_plugin")
    done = netdsl("check", "specs/lenet5.net", path=[tmp_path, TEST_PLUGINS])
    assert done.returncode == 3
    assert "plugin `broken-dist` (entry point broken = broken_plugin) failed to load: RuntimeError" in done.stderr
    assert f"hint: {plugins.DISABLE_ENV}=1 skips installed plugins" in done.stderr
    skipped = netdsl("check", "specs/lenet5.net", path=[tmp_path, TEST_PLUGINS], env={plugins.DISABLE_ENV: "1"})
    assert skipped.returncode == 0, skipped.stderr


def test_plugin_schema_errors_still_fail_at_registration() -> None:
    """Built-in schemas build on first use (start-up); a plugin's is built as it registers, so a schema
    pydantic cannot build still fails the plugin's load, naming plugin and layer (issue 21)."""
    done = netdsl("check", "specs/lenet5.net", "--plugin", "bad_schema", path=[TEST_PLUGINS])
    assert done.returncode == 3, done.stderr
    assert done.stderr.startswith("netdsl: error: plugin `bad_schema` (--plugin): layer `bad_schema`: "
                                  "its schema cannot be built: PydanticSchemaGenerationError")  # fmt: skip
    assert "Traceback" not in done.stderr


def test_plugin_schema_is_built_when_it_registers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(TEST_PLUGINS))
    monkeypatch.setenv(plugins.DISABLE_ENV, "1")
    monkeypatch.delenv("NETDSL_PLUGINS", raising=False)
    with pytest.raises(plugins.PluginError, match="layer `bad_schema`: its schema cannot be built"):
        plugins.load_plugins(["bad_schema"])
    assert "bad_schema" not in REGISTRY  # rolled back like any failed plugin


def test_plugin_may_not_replace_the_shipped_library() -> None:
    done = netdsl("check", "specs/lenet5.net", "--plugin", "lib_clash", path=[TEST_PLUGINS])
    assert done.returncode == 3 and "block library `netdsl` is already registered" in done.stderr


def test_failed_plugin_is_rolled_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(TEST_PLUGINS))
    monkeypatch.setenv(plugins.DISABLE_ENV, "1")
    monkeypatch.delenv("NETDSL_PLUGINS", raising=False)
    with pytest.raises(plugins.PluginError, match="ImportError: half_broken needs a newer numpy"):
        plugins.load_plugins(["half_broken"])
    assert "half_ok" not in REGISTRY and "half_lib" not in library_roots()
    assert all(p.target != "half_broken" for p in plugins.loaded_plugins())


def test_crashing_shape_rule_is_a_diagnostic_at_the_layer(tmp_path: Path) -> None:
    path = spec(tmp_path, "net T() {\n    input(4, 8, 8)\n    conv2d(8, 3)\n    faulty_shape\n}\n")
    done = netdsl("check", str(path), "--plugin", "faulty", path=[TEST_PLUGINS], cwd=tmp_path)
    assert done.returncode == 1
    assert ("t.net:4:5: error[E309]: the rules of `faulty_shape` (plugin faulty) failed: "
            "ZeroDivisionError: integer division or modulo by zero") in done.stderr  # fmt: skip
    assert "Traceback" not in done.stderr


def test_crashing_builder_is_an_error_naming_layer_and_plugin(tmp_path: Path) -> None:
    spec(tmp_path, "net T() {\n    input(4, 8, 8)\n    conv2d(8, 3)\n    head: faulty_build\n}\n")
    done = netdsl("build", "t.net", "--plugin", "faulty", "-o", "t.pt", path=[TEST_PLUGINS], cwd=tmp_path)
    assert done.returncode == 1
    assert (
        "t.net:4:5: error[E502]: the builder of `faulty_build` (plugin faulty) failed: KeyError: 'weights_v2'"
        in done.stderr
    )
    assert "Traceback" not in done.stderr and not (tmp_path / "t.pt").exists()


def test_schema_violations_point_at_the_argument(se_site: Path, tmp_path: Path) -> None:
    bad = SE_SPEC.replace("se(16)", "se(r=0)").replace("mish", "mish(inplace=1)")
    done = netdsl("check", str(spec(tmp_path, bad)), path=[se_site], cwd=tmp_path)
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert any(line.startswith("t.net:5:8: error[E107]: `se`") and "`reduction`" in line for line in lines)
    assert any(line.startswith("t.net:6:10: error[E107]: `mish` argument `inplace`") for line in lines)
    narrow = SE_SPEC.replace("se(16)", "se(128)")
    done = netdsl("check", str(spec(tmp_path, narrow)), path=[se_site], cwd=tmp_path)
    assert "t.net:5:5: error[E301]: se reduction=128 leaves no squeeze channels for 64 input channels" in done.stderr


def test_check_with_a_plugin_never_imports_torch(se_site: Path) -> None:
    script = (
        "import sys; from netdsl.cli import main; rc = main(['check', sys.argv[1]]); print(rc, 'torch' in sys.modules)"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("NETDSL_PLUGINS", plugins.DISABLE_ENV)}
    done = subprocess.run([sys.executable, "-c", script, str(SE_RESNET50)], capture_output=True, text=True,
                          env={**env, "PYTHONPATH": str(se_site)}, timeout=120)  # fmt: skip
    assert done.stdout.splitlines()[-1] == "0 False", done.stderr


# --------------------------------------------------------------------------------------------- netdsl layers


def test_layers_describes_a_builtin() -> None:
    done = netdsl("layers", "conv2d")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "origin:     built-in" in out and "family:     conv" in out
    assert "positional: out_channels, kernel_size, stride, padding (in this order" in out
    assert "aliases:    k = kernel_size, p = padding, s = stride" in out
    assert "shape:      (C, *spatial) → (out_channels, *window_out(spatial))" in out
    row = next(line.split() for line in out.splitlines() if line.strip().startswith("padding "))
    assert row[:9] == ["padding", "int", "|", "(int,", "int)", "|", "'same'", "|", "'valid'"] and row[9] == "0"
    assert "2 or more (one per path)" in netdsl("layers", "add").stdout


def test_layers_lists_every_builtin_grouped() -> None:
    out = netdsl("layers", env={plugins.DISABLE_ENV: "1"}).stdout
    names = [line.split()[0] for line in out.splitlines() if line.startswith("  ") and "built-in" in line]
    assert sorted(names) == sorted(k.name for k in REGISTRY if k.origin == "built-in")
    assert out.index("conv:") < out.index("activation:") < out.index("merge:")


def test_layers_unknown_name_suggests() -> None:
    done = netdsl("layers", "batchnrom")
    assert done.returncode == 1
    assert "unknown layer kind `batchnrom`" in done.stderr and "did you mean `batchnorm`?" in done.stderr


def test_builtin_rules_document_themselves() -> None:
    # `netdsl layers NAME` prints the first docstring line of the shape and cost rules.
    missing = [f"{k.name}.{r}" for k in REGISTRY if k.origin == "built-in" for r in ("shape", "cost")
               if not (getattr(k, r).__doc__ or "").strip()]  # fmt: skip
    assert missing == []


# --------------------------------------------------------------------------------------------- netdsl-se


@pytest.fixture
def se_loaded(se_site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[plugins.Plugin]:
    """The example plugin loaded in this process for one test, then unloaded."""
    monkeypatch.syspath_prepend(str(se_site))
    monkeypatch.setenv(plugins.DISABLE_ENV, "1")
    monkeypatch.delenv("NETDSL_PLUGINS", raising=False)
    (plugin,) = [p for p in plugins.load_plugins(["netdsl_se"]) if p.target == "netdsl_se"]
    try:
        yield plugin
    finally:
        plugins.unload(plugin)
        for mod in [m for m in sys.modules if m == "netdsl_se" or m.startswith("netdsl_se.")]:
            del sys.modules[mod]


def test_se_rules_match_the_built_module(se_loaded: plugins.Plugin) -> None:
    from torch.utils.flop_counter import FlopCounterMode

    assert se_loaded.kinds == ("mish", "se") and se_loaded.libraries == ("netdsl_se",)
    kind = REGISTRY.get("se")
    assert kind is not None and kind.origin == "plugin netdsl_se"
    torch.manual_seed(0)
    for shape, r in [((64, 7, 7), 16), ((256, 3, 5), 16), ((12, 4, 4), 4), ((3, 2, 2), 3)]:
        params = kind.schema(reduction=r)
        out = kind.shape(params, [shape])
        cost = kind.cost(params, [shape], out)
        module = kind.build(params, [shape], out)
        x = torch.randn(1, *shape)
        with torch.no_grad(), FlopCounterMode(display=False) as flops:
            y = module(x)
        assert tuple(y.shape[1:]) == out == shape
        assert cost.params == sum(p.numel() for p in module.parameters())
        assert cost.macs * 2 == flops.get_total_flops()
        # Hu et al.: x · σ(W2 · relu(W1 · mean(x) + b1) + b2), per channel.
        w1, b1 = module.fc1.weight.flatten(1), module.fc1.bias
        w2, b2 = module.fc2.weight.flatten(1), module.fc2.bias
        gate = torch.sigmoid(w2 @ torch.relu(w1 @ x.mean((2, 3))[0] + b1) + b2)
        torch.testing.assert_close(y[0], x[0] * gate[:, None, None])


def test_mish_is_x_tanh_softplus(se_loaded: plugins.Plugin) -> None:
    kind = REGISTRY.get("mish")
    assert kind is not None and kind.family == "activation"
    params = kind.schema()
    module = kind.build(params, [(5, 3, 3)], kind.shape(params, [(5, 3, 3)]))
    x = torch.linspace(-6, 6, 45).reshape(1, 5, 3, 3)
    torch.testing.assert_close(module(x), x * torch.tanh(torch.log1p(torch.exp(x))))


class _SqueezeExcite(nn.Module):
    """Reference SE (Hu et al. 2018) written independently of the plugin."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, channels // reduction, 1)
        self.fc2 = nn.Conv2d(channels // reduction, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.fc2(torch.relu(self.fc1(x.mean((2, 3), keepdim=True)))))


def reference_se_resnet50() -> nn.Module:
    """torchvision's ResNet-50 with SE on each bottleneck's residual branch, before the add."""
    from torchvision.models.resnet import Bottleneck, ResNet

    class SEBottleneck(Bottleneck):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            self.se = _SqueezeExcite(self.conv3.out_channels)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.relu(self.bn2(self.conv2(out)))
            return self.relu(self.se(self.bn3(self.conv3(out))) + identity)

    return ResNet(SEBottleneck, [3, 4, 6, 3])


def test_se_resnet50_static_count_matches_reference(se_site: Path) -> None:
    done = netdsl("shapes", str(SE_RESNET50), "--format", "json", path=[se_site])
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    ref = reference_se_resnet50()
    expected = sum(p.numel() for p in ref.parameters())
    assert doc["totals"]["params"] == expected
    assert abs(expected - 28.1e6) < 0.05e6  # Hu et al. 2018, Table 2: SE-ResNet-50 has 28.1M parameters
    assert doc["output"] == [1000]


def test_se_resnet50_builds_and_matches_reference(se_loaded: plugins.Plugin) -> None:
    from netdsl.backends.torch import compile

    model = compile.load(SE_RESNET50, input=(3, 64, 64), seed=0).eval()
    ref = reference_se_resnet50().eval()
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in ref.parameters())
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert ours == {k: tuple(v.shape) for k, v in ref.state_dict().items()}
    model.load_state_dict(ref.state_dict())
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model(x), ref(x), rtol=1e-4, atol=1e-5)


def test_se_resnet50_build_verify_cli(se_site: Path, tmp_path: Path) -> None:
    out = tmp_path / "se_resnet50.pt"
    done = netdsl("build", str(SE_RESNET50), "--input", "3x64x64", "--verify", "-o", str(out), path=[se_site])
    assert done.returncode == 0, done.stderr
    ref = reference_se_resnet50()
    ref.load_state_dict(torch.load(out, map_location="cpu", weights_only=True))  # strict: same keys and shapes
    assert f"{sum(p.numel() for p in ref.parameters()):,} params" in done.stdout
