"""The package's layers import only downstream: vocabulary → video → models → retrieval → agent →
methods → synthetic world → eval → data → train and serve → cli (README's layout)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "framescope"
# each layer may import itself and the layers before it
LAYERS = (
    ("types", "errors", "fileio", "text", "subtitles", "config", "settings", "families", "viz"),
    ("video",),
    ("models",),
    ("retrieval",),
    ("agent",),
    ("methods",),
    ("synth",),
    ("eval",),
    ("data",),
    ("train", "serve", "demo"),
    ("cli",),
)
RANK = {name: k for k, names in enumerate(LAYERS) for name in names}


def _imports(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of every framescope import in ``path`` (lazy ones inside functions too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
    return [(line, m) for line, m in found if m.startswith("framescope.")]


def test_every_import_points_downstream():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        me = rel.parts[0].removesuffix(".py")
        if me == "__init__":
            continue
        assert me in RANK, f"{rel}: add its layer to LAYERS"
        for line, module in _imports(path):
            other = module.split(".")[1]
            assert other in RANK, f"{rel}:{line}: {module} is in no layer"
            if RANK[other] > RANK[me]:
                wrong.append(f"{rel}:{line}: {me} imports {module}")
    assert not wrong, "\n".join(wrong)


def test_the_runtime_never_imports_the_test_checkpoints():
    """``models/tiny.py`` builds random-weight checkpoints for tests, recipes' ``model.tiny``
    and the CLI's ``tiny-model``; the inference runtime never needs it."""
    runtime = ("video", "models", "retrieval", "agent", "methods", "eval")
    users = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if path.relative_to(PACKAGE).parts[0].removesuffix(".py") in runtime
        and path.parts[-2:] != ("models", "tiny.py")
        and any(m == "framescope.models.tiny" for _, m in _imports(path))
    ]
    assert users == [], users
