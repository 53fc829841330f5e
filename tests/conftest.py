"""Shared pytest configuration: markers, backend gating, shared data."""

import os
import pathlib

import keras
import pytest

from kerasbig import testing

PROJECT_ROOT = pathlib.Path(__file__).resolve().parents[1]
# The team's test data: $KERASBIG_SHARED_DATA, else ../shared/data beside
# the checkout (benchmarks read the same variable).
SHARED_DATA = pathlib.Path(
    os.environ.get("KERASBIG_SHARED_DATA")
    or PROJECT_ROOT.parent / "shared" / "data"
)


# Backend-agnostic tests (loaders, flags, metadata, messages, docs tables)
# run once, on this backend.
AGNOSTIC_BACKEND = "tensorflow"


def pytest_addoption(parser):
    parser.addoption(
        "--full",
        action="store_true",
        default=os.environ.get("KERASBIG_FULL") == "1",
        help="the full tier: also run tests marked `large` or `full` "
        "(also KERASBIG_FULL=1; `bash .ci/run --full` passes it)",
    )


def pytest_configure(config):
    # Property tests draw 15 examples in the full tier, 5 per push.
    import hypothesis

    hypothesis.settings.register_profile("full", max_examples=15)
    hypothesis.settings.register_profile("per_push", max_examples=5)
    hypothesis.settings.load_profile(
        "full" if config.getoption("--full") else "per_push"
    )


def pytest_collection_modifyitems(config, items):
    backend = keras.backend.backend()
    skip_full = pytest.mark.skip(reason="full tier only: pass --full")
    skip_tf = pytest.mark.skip(
        reason=f"needs the TensorFlow backend; running on {backend}"
    )
    skip_agnostic = pytest.mark.skip(
        reason=f"backend-agnostic: runs once, on {AGNOSTIC_BACKEND}"
    )
    skip_full_here = pytest.mark.skip(
        reason=f"on {backend}, full tier only: pass --full"
    )
    full = config.getoption("--full")
    skip_jax = pytest.mark.skip(
        reason=f"a JAX-only example; running on {backend}"
    )
    for item in items:
        if _tensorflow_only_doctest(item):
            item.add_marker(pytest.mark.tensorflow_only)
        if JAX_ONLY_EXAMPLE in _docstring(item) and backend != "jax":
            item.add_marker(skip_jax)
        if not full and ("large" in item.keywords or "full" in item.keywords):
            item.add_marker(skip_full)
        if (
            not full
            and "tensorflow_per_push" in item.keywords
            and backend != "tensorflow"
        ):
            item.add_marker(skip_full_here)
        per_push_on = item.get_closest_marker("per_push_on")
        if not full and per_push_on and backend not in per_push_on.args:
            item.add_marker(skip_full_here)
        if "tensorflow_only" in item.keywords and backend != "tensorflow":
            item.add_marker(skip_tf)
        if "backend_agnostic" in item.keywords and backend != AGNOSTIC_BACKEND:
            item.add_marker(skip_agnostic)


# A docstring example that holds this comment runs on the TensorFlow
# backend only (instead of printing a made-up result elsewhere).
TENSORFLOW_ONLY_EXAMPLE = ">>> # TensorFlow only"


# Likewise for examples of JAX-only features (keras.distribution's
# ModelParallel); they are skipped on the other backends.
JAX_ONLY_EXAMPLE = ">>> # JAX only"


def _tensorflow_only_doctest(item):
    return TENSORFLOW_ONLY_EXAMPLE in _docstring(item)


def _docstring(item):
    return getattr(getattr(item, "dtest", None), "docstring", None) or ""


@pytest.fixture(scope="session")
def shared_data():
    """Path to ../shared/data; skips the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def check_layer(request):
    """`kerasbig.testing.check_layer` as this tier runs it: the
    `jit_compile` property (an XLA fit on TensorFlow, a torch.compile fit
    and predict on PyTorch: seconds to minutes a layer) runs per push
    only in tests marked `jit_representative` (on the marker's
    `backends`, default all), everywhere in the full tier. Every other
    property always runs."""
    marker = request.node.get_closest_marker("jit_representative")
    sweep = request.config.getoption("--full") or (
        marker is not None
        and keras.backend.backend()
        in marker.kwargs.get("backends", (keras.backend.backend(),))
    )

    def check(*args, skip=(), **kwargs):
        if not sweep and "jit_compile" not in skip:
            skip = (*skip, "jit_compile")
        return testing.check_layer(*args, skip=skip, **kwargs)

    return check


@pytest.fixture
def http_server():
    """`http_server(folder)`: serves `folder` on 127.0.0.1 in a thread
    for the test and returns its base URL (the real download code runs
    against it). `requests` counts the GET requests per path."""
    import functools
    import http.server
    import threading

    servers = []

    def serve(folder):
        requests = {}

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self):
                requests[self.path] = requests.get(self.path, 0) + 1
                super().do_GET()

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0),
            functools.partial(Handler, directory=str(folder)),
        )
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        serve.requests = requests
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def program_help():
    """`program_help(*command)`: runs `python -X importtime <command>
    --help` in a new process, as a user types it; returns its stdout and
    the sorted names of the Keras, TensorFlow, JAX, torch and NumPy
    modules it imported (none, for kerasbig's programs)."""
    import subprocess
    import sys

    heavy = ("keras", "tensorflow", "jax", "torch", "numpy")

    def run(*command):
        done = subprocess.run(
            [sys.executable, "-X", "importtime", *command, "--help"],
            capture_output=True,
            text=True,
            check=True,
        )
        imported = {
            line.rsplit("|", 1)[-1].strip()
            for line in done.stderr.splitlines()
            if line.startswith("import time:")
        }
        assert "kerasbig._console" in imported, done.stderr[-2000:]
        loaded = sorted(m for m in imported if m.split(".")[0] in heavy)
        return done.stdout, loaded

    return run
