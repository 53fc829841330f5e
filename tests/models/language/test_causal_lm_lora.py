"""LoRA on CausalLM: only adapters train with fit(), merging keeps the
outputs, adapter-only files round-trip; on every backend."""

import keras
import numpy as np
import pytest
from keras import ops

from kerasbig.models import CausalLM

CONFIG = {
    "vocabulary_size": 40,
    "max_sequence_length": 24,
    "num_layers": 2,
    "hidden_dim": 32,
    "num_heads": 4,
    "intermediate_dim": 64,
    "num_key_value_heads": 2,
}


def _model(seed=0, **options):
    keras.utils.set_random_seed(seed)
    model = CausalLM(**{**CONFIG, **options})
    model.build((None, None))
    return model


def _data(rows=32, length=16):
    # A learnable pattern: each row counts up from a random start.
    starts = np.random.default_rng(0).integers(0, 40, (rows, 1))
    ids = (starts + np.arange(length + 1)) % 40
    return ids[:, :-1].astype("int32"), ids[:, 1:].astype("int32")


def _compile(model, learning_rate=1e-2):
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )


def _adapter_size(kernel_shape, inputs, rank):
    # PEFT's LoRA on the whole projection: A (in, rank), B (rank, out).
    return (
        int(np.prod(kernel_shape[:inputs]) + np.prod(kernel_shape[inputs:]))
        * rank
    )


# Per push on every backend: the fit test; the others per push on
# TensorFlow (full tier elsewhere).
@pytest.mark.tensorflow_per_push
@pytest.mark.parametrize(
    "targets", [("query", "value"), ("query", "key", "value", "gate", "down")]
)
def test_only_adapters_are_trainable(targets):
    model = _model()
    model.enable_lora(rank=4, targets=targets)
    expected = 0
    for block in model.decoder.blocks:
        attention, feed_forward = block.self_attention, block.feed_forward
        layers = {
            "query": attention.query_dense,
            "key": attention.key_dense,
            "value": attention.value_dense,
            "gate": feed_forward.gate_proj,
            "down": feed_forward.down_proj,
        }
        for target in targets:
            expected += _adapter_size(tuple(layers[target].kernel.shape), 1, 4)
    trainable = model.trainable_weights
    assert sum(int(np.prod(w.shape)) for w in trainable) == expected
    assert {w.name for w in trainable} == {"lora_a", "lora_b"}
    # Query and key: (hidden, heads * head_dim) flattened, as PEFT's.
    query = model.decoder.blocks[0].self_attention.query_dense
    if "query" in targets:
        assert tuple(query.lora_a.shape) == (32, 4)
        assert tuple(query.lora_b.shape) == (4, 32)


# On JAX (an eager-heavy half minute) in the full tier; the resume test
# below trains adapters there per push.
@pytest.mark.per_push_on("tensorflow", "torch")
def test_fit_trains_adapters_only_and_merging_keeps_the_outputs(tmp_path):
    model = _model()
    frozen = {
        w.path: ops.convert_to_numpy(w) for w in model.weights
    }  # before LoRA
    model.enable_lora(rank=8, alpha=16, targets=("query", "value", "up"))
    _compile(model)
    x, y = _data()
    history = model.fit(x, y, epochs=8, batch_size=8, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.8 * losses[0], losses
    for variable in model.weights:
        if variable.name.startswith("lora_"):
            continue
        np.testing.assert_array_equal(
            ops.convert_to_numpy(variable), frozen[variable.path]
        )
    merged = model.merge_lora()
    assert merged.lora_config is None
    assert len(merged.trainable_weights) == len(frozen)
    # Compiled outputs: the adapted model and the merged one agree.
    np.testing.assert_allclose(
        merged.predict(x, verbose=0),
        model.predict(x, verbose=0),
        atol=2e-5,
        rtol=1e-5,
    )
    # The merged model saves and reloads as a plain CausalLM.
    merged.save(tmp_path / "merged.keras")
    reloaded = keras.saving.load_model(tmp_path / "merged.keras")
    np.testing.assert_allclose(
        reloaded.predict(x, verbose=0), merged.predict(x, verbose=0), atol=1e-6
    )


@pytest.mark.tensorflow_per_push
def test_adapter_file_round_trip(tmp_path):
    tuned = _model()
    tuned.enable_lora(rank=4)
    _compile(tuned)
    x, y = _data()
    tuned.fit(x, y, epochs=2, batch_size=8, verbose=0)
    path = tmp_path / "adapter"
    tuned.save_lora_weights(path)
    # Only the adapters: far smaller than the model's weights.
    model_bytes = sum(int(np.prod(w.shape)) * 4 for w in tuned.weights)
    assert (path / "adapter_model.safetensors").stat().st_size < model_bytes / 5
    base = _model()  # the same base weights (same seed)
    base.load_lora_weights(path)
    assert base.lora_config == tuned.lora_config
    np.testing.assert_allclose(
        base.predict(x, verbose=0), tuned.predict(x, verbose=0), atol=1e-6
    )


@pytest.mark.tensorflow_per_push
def test_bad_lora_arguments_are_named(tmp_path):
    model = _model()
    with pytest.raises(
        ValueError,
        match=r"`targets` must be .* Received: targets=\['queries'\]",
    ):
        model.enable_lora(4, targets=["queries"])
    with pytest.raises(ValueError, match="`rank` must be a positive int"):
        model.enable_lora(0)
    with pytest.raises(ValueError, match="LoRA is not enabled"):
        model.save_lora_weights(tmp_path / "a")
    with pytest.raises(ValueError, match="LoRA is not enabled"):
        model.merge_lora()
    plain = _model(activation="gelu")
    with pytest.raises(ValueError, match="target 'gate' needs a gated"):
        plain.enable_lora(4, targets=["gate"])
    model.enable_lora(4)
    with pytest.raises(ValueError, match="already enabled"):
        model.enable_lora(4)
    model(np.zeros((1, 4), "int32"))  # Keras quantizes called layers only
    with pytest.raises(ValueError, match="merge it first"):
        model.quantize("int8")
    model.save_lora_weights(tmp_path / "rank4")
    other = _model()
    other.enable_lora(2, alpha=8)
    with pytest.raises(
        ValueError,
        match=r"other LoRA settings than this model's \(rank 4 there, 2 "
        r"here; alpha 4 there, 8 here\)",
    ):
        other.load_lora_weights(tmp_path / "rank4")
    with pytest.raises(ValueError, match=r"`dropout` must be in \[0, 1\)"):
        _model().enable_lora(4, dropout=1.0)
    old = tmp_path / "adapters.npz"
    np.savez(old, a=np.zeros(2))
    with pytest.raises(ValueError, match="kerasbig before PEFT's format"):
        _model().load_lora_weights(old)
    with pytest.raises(FileNotFoundError, match="expected a PEFT adapter"):
        _model().load_lora_weights(tmp_path)


def _values(model):
    return {w.path: ops.convert_to_numpy(w) for w in model.weights}


def test_weights_files_keep_the_lora_state_and_training_resumes(tmp_path):
    # Keras alone writes merged kernels and zeroes the adapters on load,
    # after which they get no gradient (a resumed LoRA run stalled, and
    # the recipe's adapters.npz held zeros).
    x, y = _data()
    model = _model()
    model.enable_lora(rank=4)
    _compile(model)
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    trained = _values(model)
    for path in (tmp_path / "lm.weights.h5", tmp_path / "lm.keras"):
        if path.suffix == ".keras":
            model.save(path)
        else:
            model.save_weights(path)
        restored = _model(seed=1)
        restored.enable_lora(rank=4)
        restored.load_weights(path)
        for name, value in _values(restored).items():
            np.testing.assert_array_equal(value, trained[name], err_msg=name)
    # It trains on: the adapters move and the loss falls.
    _compile(restored)
    before = restored.evaluate(x, y, verbose=0)
    restored.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert restored.evaluate(x, y, verbose=0) < before
    # Without LoRA, the same file loads as the merged model.
    plain = keras.saving.load_model(tmp_path / "lm.keras")
    np.testing.assert_allclose(
        plain.predict(x, verbose=0), model.predict(x, verbose=0), atol=2e-5
    )


@pytest.mark.tensorflow_per_push
def test_loading_base_weights_into_a_lora_model_gives_trainable_adapters(
    tmp_path,
):
    x, y = _data()
    base = _model()
    base.save_weights(tmp_path / "base.weights.h5")
    model = _model(seed=1)
    model.enable_lora(rank=4)
    model.load_weights(tmp_path / "base.weights.h5")
    np.testing.assert_allclose(
        model.predict(x, verbose=0), base.predict(x, verbose=0), atol=1e-5
    )
    adapters = [w for w in model.trainable_weights]
    assert all(np.abs(ops.convert_to_numpy(w)).max() > 0 for w in adapters[::2])
    _compile(model)
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert model.evaluate(x, y, verbose=0) < before
    # Saved with LoRA on other projections: a clear error.
    model.save_weights(tmp_path / "lora.weights.h5")
    other = _model()
    other.enable_lora(rank=4, targets=("query",))
    with pytest.raises(ValueError, match="saved with other LoRA settings"):
        other.load_weights(tmp_path / "lora.weights.h5")
