"""Every recipe has its docs page, the page explains every flag, and
the recipe is written on the one toolkit, `kerasbig.training`."""

import ast
import pathlib
import re

import pytest

from kerasbig.recipes import NAMES

ROOT = pathlib.Path(__file__).resolve().parents[2]
RECIPES = sorted(NAMES)


@pytest.mark.backend_agnostic
def test_every_recipe_has_a_page_in_the_overview():
    overview = (ROOT / "docs" / "recipes" / "index.md").read_text()
    for name in RECIPES:
        assert (ROOT / "docs" / "recipes" / f"{name}.md").is_file(), name
        assert f"({name}.md)" in overview, name


# The flags come from `--help`; they do not depend on the backend.
@pytest.mark.backend_agnostic
@pytest.mark.parametrize("name", RECIPES)
def test_page_lists_every_flag(name, recipe_help):
    # Option lines of argparse's help start with the flag (a boolean's
    # --no-<flag> follows it on the same line).
    text = recipe_help(name)
    flags = _flags(text)
    assert len(flags) > 3, text
    page = (ROOT / "docs" / "recipes" / f"{name}.md").read_text()
    missing = sorted(f for f in flags if f"`{f}`" not in page)
    assert not missing, f"docs/recipes/{name}.md lacks {missing}"


def _flags(help_text):
    return set(re.findall(r"^ {2}(--[a-z][a-z0-9-]*)", help_text, re.M))


@pytest.mark.backend_agnostic
@pytest.mark.parametrize("name", RECIPES)
@pytest.mark.parametrize("command", ["python -m", "checkout launcher"])
def test_help_answers_before_keras_loads(
    name, command, recipe_help, program_help
):
    if command == "python -m":
        program = ["-m", f"kerasbig.recipes.{name}"]
    else:
        program = [str(ROOT / "recipes" / f"{name}.py")]
    text, loaded = program_help(*program)
    assert not loaded, f"{name} --help imported {loaded[:10]}"
    # The same flags as main() parses, and the recipe's own description.
    assert _flags(text) == _flags(recipe_help(name))
    first_line = ast.get_docstring(
        ast.parse((ROOT / "kerasbig" / "recipes" / f"{name}.py").read_text())
    ).splitlines()[0]
    assert first_line in text


@pytest.mark.backend_agnostic
@pytest.mark.parametrize("name", RECIPES)
def test_recipe_runs_on_the_one_toolkit(name):
    # Flags, run folder, report and errors the same way in every recipe.
    path = ROOT / "kerasbig" / "recipes" / f"{name}.py"
    tree = ast.parse(path.read_text())
    called = {
        node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    toolkit = {"parse_config", "start_run", "write_report", "run_script"}
    assert toolkit <= called, f"{name} does not call {toolkit - called}"
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    assert "argparse" not in imported, f"{name} parses flags itself"
