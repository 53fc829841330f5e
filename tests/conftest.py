"""Shared pytest configuration: markers, backend gating, shared data."""

import os
import pathlib

import keras
import pytest

PROJECT_ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


def pytest_addoption(parser):
    parser.addoption(
        "--run-large",
        action="store_true",
        default=os.environ.get("KERASBIG_RUN_LARGE") == "1",
        help="run tests marked `large` (also KERASBIG_RUN_LARGE=1)",
    )


def pytest_collection_modifyitems(config, items):
    backend = keras.backend.backend()
    skip_large = pytest.mark.skip(reason="large test: pass --run-large")
    skip_tf = pytest.mark.skip(
        reason=f"needs the TensorFlow backend; running on {backend}"
    )
    for item in items:
        if "large" in item.keywords and not config.getoption("--run-large"):
            item.add_marker(skip_large)
        if "tensorflow_only" in item.keywords and backend != "tensorflow":
            item.add_marker(skip_tf)


@pytest.fixture(scope="session")
def shared_data():
    """Path to ../shared/data; skips the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA
