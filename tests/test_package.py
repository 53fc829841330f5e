"""Package-level guarantees: cheap import, optional extras, public API."""

import importlib
import inspect
import json
import os
import subprocess
import sys

import keras
import pytest

import kerasbig
from kerasbig._optional import import_optional

HEAVY_OPTIONAL = [
    "tensorflow_datasets",
    "tensorflow_model_optimization",
    "ai_edge_litert",
    "sklearn",
    "keras_hub",
    "tf_keras",
    "torch_geometric",
    "scipy",
]
SUBPACKAGES = [name for name in kerasbig.__all__ if name != "__version__"]


def test_import_loads_no_optional_heavy_dependency():
    # Keras itself imports scikit-learn and scipy when they are installed,
    # so compare with what `import keras` alone loaded.
    code = (
        "import json, sys, keras; before = set(sys.modules); "
        "import kerasbig; "
        f"print(json.dumps([m for m in {HEAVY_OPTIONAL!r} "
        "if m in sys.modules and m not in before]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "KERAS_BACKEND": keras.backend.backend()},
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_version_is_a_pep440_string():
    assert kerasbig.__version__.count(".") >= 2


def test_missing_optional_dependency_names_the_extra(monkeypatch):
    # None in sys.modules makes the import fail even after an earlier test
    # imported the real module.
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    with pytest.raises(ImportError) as info:
        import_optional("ai_edge_litert.interpreter", "Running a LiteRT model")
    message = str(info.value)
    assert "Running a LiteRT model needs" in message
    assert "pip install 'kerasbig[litert]'" in message


def test_unknown_optional_dependency_suggests_pip_install():
    with pytest.raises(ImportError, match="pip install not_a_real_module"):
        import_optional("not_a_real_module", "Testing")


def _public_objects():
    for package in SUBPACKAGES:
        module = importlib.import_module(f"kerasbig.{package}")
        for name in module.__all__:
            yield f"kerasbig.{package}.{name}", getattr(module, name)


@pytest.mark.parametrize("package", SUBPACKAGES)
def test_all_lists_only_existing_names(package):
    module = importlib.import_module(f"kerasbig.{package}")
    for name in module.__all__:
        assert hasattr(module, name), f"kerasbig.{package}.{name}"


def test_public_callables_have_runnable_examples():
    missing = [
        path
        for path, obj in _public_objects()
        if (inspect.isfunction(obj) or _is_layer_or_model(obj))
        and ">>>" not in (inspect.getdoc(obj) or "")
    ]
    assert missing == [], f"public callables without a >>> example: {missing}"


def test_public_layers_and_models_are_registered():
    unregistered = [
        path
        for path, obj in _public_objects()
        if _is_layer_or_model(obj)
        and not keras.saving.get_registered_name(obj).startswith("kerasbig>")
    ]
    assert unregistered == []


def private_crossings(root):
    """`path -> module` for every import in the package tree at `root`
    that reaches into another room's private module or name, in any
    form: `import kerasbig.x._y`, `from kerasbig.x._y import z`,
    `from kerasbig.x import _y`, `from kerasbig.x.y import _z`."""
    import ast

    crossings = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).parts
        room = parts[0] if len(parts) > 1 else None
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.ImportFrom) and node.module:
                targets = [
                    f"{node.module}.{alias.name}" for alias in node.names
                ]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            for name in targets:
                bits = name.split(".")
                if bits[0] != "kerasbig" or len(bits) < 3 or bits[1] == room:
                    continue
                if any(_private(bit) for bit in bits[2:]):
                    crossings.append(f"{path.relative_to(root)} -> {name}")
    return crossings


def _private(name):
    return name.startswith("_") and not name.startswith("__")


@pytest.mark.backend_agnostic
def test_no_room_imports_another_rooms_private_module():
    # A piece two rooms share is public in the room that owns it; the
    # package's own private modules (kerasbig._backend, _optional, ...)
    # are shared by every room.
    import pathlib

    assert private_crossings(pathlib.Path(kerasbig.__file__).parent) == []


@pytest.mark.backend_agnostic
def test_the_house_check_sees_every_form_of_private_import(tmp_path):
    forms = {
        "a.py": "from kerasbig.export import _litert\n",
        "b.py": "from kerasbig.export._litert import convert_model\n",
        "c.py": "import kerasbig.models.language._lora\n",
        "d.py": "from kerasbig.models.language.causal_lm import _helper\n",
        "e.py": "from kerasbig import _backend\n",
        "f.py": "from kerasbig.export import converter\n",
    }
    room = tmp_path / "testing"
    room.mkdir()
    for name, text in forms.items():
        (room / name).write_text(text)
    (tmp_path / "export").mkdir()
    (tmp_path / "export" / "x.py").write_text(
        "from kerasbig.export import _own\n"
    )
    assert private_crossings(tmp_path) == [
        "testing/a.py -> kerasbig.export._litert",
        "testing/b.py -> kerasbig.export._litert.convert_model",
        "testing/c.py -> kerasbig.models.language._lora",
        "testing/d.py -> kerasbig.models.language.causal_lm._helper",
    ]


def _is_layer_or_model(obj):
    return inspect.isclass(obj) and issubclass(obj, keras.layers.Layer)
