"""The installed package, not the checkout: the wheel and sdist carry the
recipes and `py.typed`, and a recipe runs from the installed wheel in a
folder outside this repository."""

import json
import os
import pathlib
import subprocess
import sys
import tarfile
import zipfile

import pytest

from kerasbig.recipes import NAMES

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGED = ["kerasbig/py.typed", "kerasbig/recipes/__main__.py"] + [
    f"kerasbig/recipes/{name}.py" for name in NAMES
]


def _run(command, **kwargs):
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=600, **kwargs
    )
    assert done.returncode == 0, (command, done.stderr[-3000:])
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    dist = tmp_path_factory.mktemp("dist")
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps"]
        + ["--no-build-isolation", "-q", "-w", str(dist), str(ROOT)]
    )
    (path,) = dist.glob("kerasbig-*.whl")
    return path


@pytest.mark.backend_agnostic
def test_recipe_modules_match_the_checkout_scripts():
    modules = {p.stem for p in (ROOT / "kerasbig" / "recipes").glob("*.py")}
    assert modules - {"__init__", "__main__"} == set(NAMES)
    scripts = {p.stem for p in (ROOT / "recipes").glob("[a-z]*.py")}
    assert scripts == set(NAMES)
    for name in NAMES:  # each script runs the package's code, no copy
        text = (ROOT / "recipes" / f"{name}.py").read_text()
        assert f'_launch.run("{name}")' in text
        assert len(text.splitlines()) < 10, name


@pytest.mark.backend_agnostic
def test_wheel_and_sdist_carry_the_recipes_and_py_typed(wheel, tmp_path):
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [path for path in PACKAGED if path not in names]
    assert not missing, missing
    assert not any(n.startswith(("tests/", "recipes/")) for n in names)
    # The sdist, built by the same backend pip uses.
    _run(
        [
            sys.executable,
            "-c",
            "import sys; from setuptools import build_meta; "
            "build_meta.build_sdist(sys.argv[1])",
            str(tmp_path),
        ],
        cwd=ROOT,
    )
    (sdist,) = tmp_path.glob("kerasbig-*.tar.gz")
    with tarfile.open(sdist) as archive:
        members = {m.split("/", 1)[1] for m in archive.getnames() if "/" in m}
    missing = [path for path in PACKAGED if path not in members]
    assert not missing, missing


@pytest.mark.backend_agnostic
def test_installed_wheel_runs_a_recipe_outside_the_checkout(wheel, tmp_path):
    site = tmp_path / "site"
    _run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q"]
        + ["--target", str(site), str(wheel)]
    )
    work = tmp_path / "elsewhere"
    work.mkdir()
    # The installed copy shadows the checkout's editable install.
    environment = dict(os.environ, PYTHONPATH=str(site))
    found = _run(
        [
            sys.executable,
            "-c",
            "import importlib.util as u; print(u.find_spec('kerasbig').origin)",
        ],
        cwd=work,
        env=environment,
    )
    assert found.stdout.strip().startswith(str(site))
    listing = _run(
        [sys.executable, "-m", "kerasbig.recipes"], cwd=work, env=environment
    )
    assert all(name in listing.stdout for name in NAMES)
    assert listing.stderr == ""  # python -m kerasbig.* starts quiet
    _run(
        [sys.executable, "-m", "kerasbig.recipes.quickstart", "--smoke"]
        + ["--output-dir", "out"],
        cwd=work,
        env=environment,
    )
    metrics = json.loads((work / "out" / "metrics.json").read_text())
    assert metrics["reload_max_abs_difference"] <= 1e-5
    assert (work / "out" / "model.keras").is_file()
