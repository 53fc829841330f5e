import importlib.util
import pathlib

import pytest

RECIPES = pathlib.Path(__file__).resolve().parents[2] / "recipes"


@pytest.fixture
def load_recipe():
    """Imports recipes/<name>.py as a module (recipes are not a package)."""

    def load(name):
        spec = importlib.util.spec_from_file_location(
            f"recipe_{name}", RECIPES / f"{name}.py"
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load
