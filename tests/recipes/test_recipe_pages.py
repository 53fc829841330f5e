"""Every recipe has its docs page, and the page explains every flag."""

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
