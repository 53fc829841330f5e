"""Optional dependencies are checked at the door: a recipe whose flags
need a module that is not installed stops before it trains, naming the
module and the pip extra; and each install line in the README and the
recipe pages installs what the recipe run after it needs."""

import pathlib
import re
import sys

import pytest

from kerasbig._optional import distribution_of
from kerasbig.recipes import NAMES
from kerasbig.training import parse_config

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.mark.backend_agnostic
def test_a_missing_dependency_stops_the_run_before_training(
    load_recipe, tmp_path, monkeypatch
):
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)
    folder = tmp_path / "run"
    with pytest.raises(ImportError) as info:
        load_recipe("prune_quantize").main(
            ["--smoke", "--output-dir", str(folder)]
        )
    message = str(info.value)
    assert "ai_edge_litert (running the .tflite files)" in message
    assert message.endswith("pip install 'kerasbig[litert]'")
    assert not folder.exists()  # nothing trained, nothing written


def _extras():
    """Each extra of pyproject.toml as the set of distributions it
    installs, kerasbig[...] references expanded."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    table = tomllib.loads((ROOT / "pyproject.toml").read_text())
    declared = table["project"]["optional-dependencies"]

    def names(extra):
        found = set()
        for requirement in declared[extra]:
            inner = re.fullmatch(r"kerasbig\[([\w,]+)\]", requirement)
            if inner:
                for other in inner.group(1).split(","):
                    found |= names(other)
            else:
                found.add(re.split(r"[<>=!~ \[;]", requirement)[0].lower())
        return found

    return {extra: names(extra) for extra in declared}


def _install_and_run_pairs():
    """`(file, extras, recipe)` for each shell block that installs
    kerasbig with extras and then runs a recipe."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    pairs = []
    for page in pages:
        for block in re.findall(r"```bash\n(.*?)```", page.read_text(), re.S):
            installs = re.findall(
                r"kerasbig\[([\w,]+)\]|\"\.\[([\w,]+)\]\"", block
            )
            runs = re.findall(
                r"(?:kerasbig\.recipes\.|recipes/)(\w+?)(?:\.py)?(?:\s|$)",
                block,
            )
            extras = {
                extra
                for found in installs
                for group in found
                for extra in group.split(",")
                if extra
            }
            for recipe in runs:
                if extras and recipe in NAMES:
                    pairs.append(
                        (page.relative_to(ROOT), frozenset(extras), recipe)
                    )
    return pairs


PAIRS = _install_and_run_pairs()


@pytest.mark.backend_agnostic
def test_the_readme_pairs_are_found():
    files = {str(path) for path, _, _ in PAIRS}
    assert "README.md" in files
    assert ("README.md", "prune_quantize") in {
        (str(path), recipe) for path, _, recipe in PAIRS
    }


@pytest.mark.backend_agnostic
@pytest.mark.parametrize(
    "page, extras, recipe", PAIRS, ids=[f"{p}:{r}" for p, _, r in PAIRS]
)
def test_install_lines_bring_what_the_recipe_needs(
    load_recipe, page, extras, recipe
):
    module = load_recipe(recipe)
    needs = module.dependencies(parse_config(module.Config, []))
    installed = set().union(*(_extras()[extra] for extra in extras))
    missing = {
        name: purpose
        for name, purpose in needs.items()
        if distribution_of(name).lower() not in installed
    }
    assert not missing, (
        f"{page}: pip install kerasbig[{','.join(sorted(extras))}] then "
        f"{recipe} lacks {missing}"
    )
