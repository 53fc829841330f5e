"""The `config` property of `check_layer`."""

import copy
import json

import keras

from kerasbig.testing._case import assert_close


def check_config(case):
    layer = case.make_layer()
    outputs = case.call_eager(layer)
    config = layer.get_config()
    # Keras itself leaves arguments at their defaults out of some configs
    # (Dense's lora_rank), so only the arguments actually passed must be
    # there; the round trip below catches a passed one that is lost.
    missing = [name for name in case.init_kwargs if name not in config]
    if missing:
        raise AssertionError(
            f"get_config() is missing constructor argument(s) {missing}. "
            f"Received: config keys {sorted(config)}"
        )
    try:
        json.dumps(keras.saving.serialize_keras_object(layer))
    except TypeError as error:
        raise AssertionError(
            f"get_config() is not JSON-serializable: {error}"
        ) from None
    # A copy: some from_config (Keras's Wrapper) pop entries.
    clone = case.layer_cls.from_config(copy.deepcopy(config))
    clone_config = clone.get_config()
    if _canonical(clone_config) != _canonical(config):
        raise AssertionError(
            "from_config(get_config()) gives a different config. "
            f"Expected: {config}. Received: {clone_config}"
        )
    case.call_eager(clone)
    if len(clone.weights) != len(layer.weights):
        raise AssertionError(
            f"from_config(get_config()) builds {len(clone.weights)} "
            f"weights; the original has {len(layer.weights)}"
        )
    clone.set_weights(layer.get_weights())
    assert_close(
        case.call_eager(clone),
        outputs,
        case.atol,
        "from_config(get_config()) with copied weights gives different "
        "outputs (a constructor argument is lost or not used from the "
        "config)",
    )


def _canonical(config):
    return json.dumps(
        keras.saving.serialize_keras_object(config), sort_keys=True
    )
