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
    flags = set(re.findall(r"^ {2}(--[a-z][a-z0-9-]*)", text, re.M))
    assert len(flags) > 3, text
    page = (ROOT / "docs" / "recipes" / f"{name}.md").read_text()
    missing = sorted(f for f in flags if f"`{f}`" not in page)
    assert not missing, f"docs/recipes/{name}.md lacks {missing}"


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
