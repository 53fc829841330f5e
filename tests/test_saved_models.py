"""`.keras` files saved by an earlier kerasbig still load: models and
graph layers moved between modules keep their registered names."""

import pathlib

import keras
import numpy as np
import pytest

import kerasbig  # noqa: F401  (registers kerasbig's classes)

SAVED = pathlib.Path(__file__).parent / "saved_models"
NAMES = sorted(path.stem for path in SAVED.glob("*.keras"))


def test_every_saved_model_is_checked():
    assert NAMES == [
        "causal_lm",
        "complex",
        "gcn",
        "rgcn_link_predictor",
        "transformer_classifier",
        "vae",
    ]


@pytest.mark.parametrize("name", NAMES)
def test_a_model_saved_before_the_move_loads_and_predicts_the_same(name):
    expected = np.load(SAVED / "expected.npz")
    inputs = _numbered(expected, f"{name}_input_")
    model = keras.saving.load_model(SAVED / f"{name}.keras")
    outputs = model(inputs if len(inputs) > 1 else inputs[0], training=False)
    outputs = keras.tree.flatten(outputs)
    wanted = _numbered(expected, f"{name}_output_")
    assert len(outputs) == len(wanted)
    for output, array in zip(outputs, wanted, strict=True):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(output), array, rtol=1e-5, atol=1e-5
        )


def _numbered(arrays, prefix):
    keys = [key for key in arrays.files if key.startswith(prefix)]
    return [
        arrays[key] for key in sorted(keys, key=lambda k: int(k[len(prefix) :]))
    ]
