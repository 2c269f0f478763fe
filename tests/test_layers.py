"""Dependencies point one way (README, Architecture): no module imports from a layer above
its own, and the three middle packages never import each other. Checked on the source, so
imports inside functions count too. Also: no source file over 400 lines."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "saturate_cli"
# bottom to top; a module may import its own layer and those below
LAYERS = [
    {"types", "errors", "settings", "wording", "paths", "budget", "option_text", "atomic", "schemas",
     "__version__"},
    {"activations", "stats"},
    {"calibration", "model", "diagnose"},  # siblings: none imports another (see below)
    {"report"},
    {"render", "policy", "baseline"},
    {"batch_loop", "pipeline", "remedies", "over_time", "shard", "api"},
    {"config", "cli", "cli_fix", "cli_guard", "cli_io", "cli_options", "cli_settings",
     "cli_show", "cli_over_time", "cli_merge", "__main__", "__init__"},
]
SIBLINGS = {"calibration", "model", "diagnose"}


def _unit(parts: list[str]) -> str:
    """The layer unit of a module path inside saturate_cli (its top package or module)."""
    return parts[0] if parts else "__init__"


def _rank(unit: str) -> int:
    for i, layer in enumerate(LAYERS):
        if unit in layer or any(unit.startswith(u) for u in layer if u.endswith("_")):
            return i
    raise AssertionError(f"saturate_cli.{unit} has no layer: add it to LAYERS (and to the "
                         "README's Architecture section)")


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "saturate_cli":
                yield from (a.name for a in node.names)
            elif node.module.startswith("saturate_cli."):
                yield node.module.split(".")[1]
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("saturate_cli."):
                    yield a.name.split(".")[1]


def test_no_module_imports_from_a_layer_above_it():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        unit = _unit(parts) if len(parts) > 1 else parts[0]
        for target in set(_imports(path)):
            if target == unit:
                continue
            if _rank(target) > _rank(unit) or (unit in SIBLINGS and target in SIBLINGS):
                wrong.append(f"{path.relative_to(ROOT)} imports saturate_cli.{target}")
    assert not wrong, "\n".join(sorted(wrong))


def test_no_source_file_over_400_lines():
    long = {str(p.relative_to(ROOT)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 400}
    assert not long, long


def test_no_test_folder_shadows_a_dependency():
    """tests/ is on sys.path: a folder named like a package (torch/) imports as a namespace
    package wherever the real one is missing, and the torch tests then fail instead of skip."""
    shadowing = {p.name for p in (ROOT / "tests").iterdir() if p.is_dir()} & {
        "torch", "onnx", "onnxruntime", "numpy", "transformers", "dask", "lightning", "PIL",
        "tensorboard", "typer", "rich", "hypothesis", "jsonschema", "html5lib"}
    assert not shadowing, shadowing
