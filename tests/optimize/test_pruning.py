import keras
import numpy as np
import pytest
from keras import ops

from kerasbig.graph import GCNConv
from kerasbig.layers import MultiHeadAttention
from kerasbig.optimize import ConstantSparsity
from kerasbig.optimize import PolynomialDecay
from kerasbig.optimize import PruneLowMagnitude
from kerasbig.optimize import UpdatePruningStep
from kerasbig.optimize import prune_low_magnitude
from kerasbig.optimize import sparsity_report
from kerasbig.optimize import sparsity_total
from kerasbig.optimize import strip_pruning


def _wrappers(model):
    return [x for x in model.layers if isinstance(x, PruneLowMagnitude)]


def _mlp(seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((12,)),
            keras.layers.Dense(32, activation="relu", name="hidden"),
            keras.layers.Dropout(0.1),
            keras.layers.Dense(3, name="logits"),
        ]
    )


def _data(n=96):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 12)).astype("float32")
    return x, (x[:, :3] > 0).argmax(-1)


def _compile(model):
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


@pytest.mark.parametrize(
    "make",
    [
        lambda t: (
            t.ConstantSparsity(0.6, begin_step=10, end_step=50, frequency=7),
            ConstantSparsity(0.6, begin_step=10, end_step=50, frequency=7),
        ),
        lambda t: (
            t.PolynomialDecay(0.1, 0.9, 5, 105, power=2, frequency=10),
            PolynomialDecay(0.1, 0.9, 5, 105, power=2, frequency=10),
        ),
    ],
)
def test_schedules_equal_tfmot(make):
    tfmot = pytest.importorskip("tensorflow_model_optimization")
    theirs, ours = make(tfmot.sparsity.keras)
    for step in range(130):
        should, sparsity = theirs(step)
        assert bool(ours.should_prune(step)) == bool(should), step
        np.testing.assert_allclose(
            float(ours.sparsity(step)), float(sparsity), rtol=1e-6
        )


def test_fit_reaches_the_schedule_and_strip_bakes_it():
    x, y = _data()
    pruned = _compile(
        prune_low_magnitude(
            _mlp(),
            PolynomialDecay(0.0, 0.8, begin_step=0, end_step=20, frequency=5),
        )
    )
    pruned.fit(
        x,
        y,
        batch_size=16,
        epochs=5,
        verbose=0,
        callbacks=[UpdatePruningStep()],
    )
    wrappers = _wrappers(pruned)
    assert [w.layer.name for w in wrappers] == ["hidden", "logits"]
    assert {int(ops.convert_to_numpy(w.pruning_step)) for w in wrappers} == {30}
    stripped = strip_pruning(pruned)
    assert not _wrappers(stripped)
    report = sparsity_report(stripped)
    # round(n * 0.2) weights survive in each kernel, as tfmot.
    assert [r["size"] - r["zeros"] for r in report] == [
        round(12 * 32 * 0.2),
        round(32 * 3 * 0.2),
    ]
    assert sparsity_total(report) == pytest.approx(0.8, abs=0.01)
    np.testing.assert_allclose(
        ops.convert_to_numpy(stripped(x)),
        ops.convert_to_numpy(pruned(x)),
        atol=1e-5,
    )
    # The kernels of the pruned model hold the zeros too (epoch end).
    assert sparsity_total(sparsity_report(pruned)) == pytest.approx(
        0.8, abs=0.01
    )


def test_the_original_model_is_left_untouched():
    model = _mlp()
    before = [ops.convert_to_numpy(w) for w in model.weights]
    x, y = _data()
    pruned = _compile(
        prune_low_magnitude(model, ConstantSparsity(0.5, 0, frequency=1))
    )
    pruned.fit(x, y, epochs=1, verbose=0, callbacks=[UpdatePruningStep()])
    for old, weight in zip(before, model.weights, strict=True):
        np.testing.assert_array_equal(old, ops.convert_to_numpy(weight))


def test_training_without_the_callback_says_what_is_missing():
    x, y = _data()
    pruned = _compile(prune_low_magnitude(_mlp()))
    with pytest.raises(ValueError, match="UpdatePruningStep"):
        pruned.fit(x, y, epochs=1, verbose=0)


def test_save_mid_training_and_resume_equals_one_run(tmp_path):
    x, y = _data()
    schedule = PolynomialDecay(
        0.0, 0.75, begin_step=0, end_step=24, frequency=3
    )

    def run(model, epochs):
        model.fit(
            x,
            y,
            batch_size=16,
            epochs=epochs,
            shuffle=False,
            verbose=0,
            callbacks=[UpdatePruningStep()],
        )

    # Dropout-free copy so both runs see the same computation.
    def model():
        keras.utils.set_random_seed(1)
        return keras.Sequential(
            [
                keras.Input((12,)),
                keras.layers.Dense(16, activation="relu", name="hidden"),
                keras.layers.Dense(3, name="logits"),
            ]
        )

    whole = _compile(prune_low_magnitude(model(), schedule))
    run(whole, 4)
    first = _compile(prune_low_magnitude(model(), schedule))
    run(first, 2)
    path = tmp_path / "pruned.keras"
    first.save(path)
    resumed = keras.saving.load_model(path)
    wrappers = _wrappers(resumed)
    assert {int(ops.convert_to_numpy(w.pruning_step)) for w in wrappers} == {12}
    run(resumed, 2)
    for a, b in zip(whole.weights, resumed.weights, strict=True):
        np.testing.assert_allclose(
            ops.convert_to_numpy(a),
            ops.convert_to_numpy(b),
            atol=1e-5,
            err_msg=a.path,
        )


def test_block_and_two_four_patterns():
    keras.utils.set_random_seed(0)
    blocks = PruneLowMagnitude(
        keras.layers.Dense(8),
        ConstantSparsity(0.5, frequency=1),
        block_size=(2, 4),
    )
    blocks.build((None, 6))
    blocks.update_masks(1)
    mask = ops.convert_to_numpy(blocks.masks[0])  # (6, 8) in (2, 4) blocks
    tiles = mask.reshape(3, 2, 2, 4).transpose(0, 2, 1, 3).reshape(6, 8)
    assert all(len(set(t)) == 1 for t in tiles)
    assert mask.mean() == 0.5

    two_four = PruneLowMagnitude(
        keras.layers.Conv2D(5, 3),
        ConstantSparsity(0.9, frequency=1),
        sparsity_m_by_n=(2, 4),
    )
    two_four.build((None, 9, 9, 8))
    two_four.update_masks(1)
    kernel = ops.convert_to_numpy(two_four.pruned_weights[0])
    mask = ops.convert_to_numpy(
        two_four.masks[0]
    )  # (3, 3, 8, 5): groups of 4 inputs
    groups = mask.reshape(3, 3, 2, 4, 5)
    assert (groups.sum(axis=3) == 2).all()
    kept = np.abs(kernel.reshape(3, 3, 2, 4, 5))
    smallest_kept = np.where(groups == 1, kept, np.inf).min(axis=3)
    largest_dropped = np.where(groups == 0, kept, -np.inf).max(axis=3)
    assert (smallest_kept >= largest_dropped).all()


@pytest.mark.parametrize(
    "layer, inputs",
    [
        (keras.layers.Conv1D(4, 3), [np.ones((2, 7, 3), "float32")]),
        (
            keras.layers.EinsumDense("ab,bc->ac", output_shape=5),
            [np.ones((2, 6), "float32")],
        ),
        (keras.layers.Embedding(20, 4), [np.arange(10).reshape(2, 5)]),
        (MultiHeadAttention(2, 4), [np.ones((2, 5, 8), "float32")] * 2),
        (
            GCNConv(4),
            [np.ones((5, 3), "float32"), np.array([[0, 1, 2], [1, 2, 3]])],
        ),
    ],
    ids=["conv1d", "einsum_dense", "embedding", "attention", "gcn"],
)
def test_wrapped_layer_computes_with_masked_kernels(layer, inputs):
    layer(*inputs)  # built
    wrapper = PruneLowMagnitude(layer, ConstantSparsity(0.5, frequency=1))
    wrapper.update_masks(1)
    got = ops.convert_to_numpy(wrapper(*inputs))
    for weight, mask in zip(wrapper.pruned_weights, wrapper.masks, strict=True):
        assert int((ops.convert_to_numpy(mask) == 0).sum()) == round(
            np.prod(weight.shape) / 2
        )
    stripped = strip_pruning(wrapper)
    np.testing.assert_allclose(
        ops.convert_to_numpy(stripped(*inputs)), got, atol=1e-5
    )
    assert not np.allclose(ops.convert_to_numpy(layer(*inputs)), got)


def test_bad_input_raises_clear_errors():
    with pytest.raises(ValueError, match=r"Supported layers: .*Conv2D.*Dense"):
        PruneLowMagnitude(keras.layers.LSTM(3))
    model = keras.Sequential([keras.Input((3, 2)), keras.layers.LSTM(3)])
    with pytest.raises(ValueError, match="cannot prune LSTM 'lstm"):
        prune_low_magnitude(model)
    with pytest.raises(
        ValueError, match=r"`target_sparsity` must be a number in \[0, 1\)"
    ):
        ConstantSparsity(1.0)
    with pytest.raises(ValueError, match="`final_sparsity`"):
        PolynomialDecay(0.0, -0.1, 0, 10)
    with pytest.raises(ValueError, match="`end_step` must be -1 or an int"):
        ConstantSparsity(0.5, begin_step=10, end_step=5)
    with pytest.raises(ValueError, match="no layers named \\['nope'\\]"):
        prune_low_magnitude(_mlp(), layers=["nope"])
    conv = keras.layers.Conv2D(2, 1)
    conv.build((None, 4, 4, 3))
    with pytest.raises(ValueError, match="multiple of 4"):
        PruneLowMagnitude(conv, sparsity_m_by_n=(2, 4))


def test_layers_argument_prunes_only_the_named_layers():
    pruned = prune_low_magnitude(_mlp(), layers=["logits"])
    wrapped = [wrapper.layer.name for wrapper in _wrappers(pruned)]
    assert wrapped == ["logits"]


@pytest.mark.tensorflow_per_push
def test_functional_transformer_with_padding_masks_prunes_and_strips():
    from kerasbig.layers import TransformerBlock

    keras.utils.set_random_seed(0)
    tokens = keras.Input((6,), dtype="int32")
    x = keras.layers.Embedding(30, 8, mask_zero=True)(tokens)
    x = TransformerBlock(2, 16)(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    model = keras.Model(tokens, keras.layers.Dense(2)(x))
    ids = np.array([[5, 6, 7, 0, 0, 0], [1, 2, 3, 4, 5, 6]] * 8)
    labels = np.array([0, 1] * 8)
    pruned = _compile(
        prune_low_magnitude(model, ConstantSparsity(0.5, frequency=2))
    )
    pruned.fit(
        ids, labels, epochs=2, verbose=0, callbacks=[UpdatePruningStep()]
    )
    stripped = strip_pruning(pruned)
    # Keras passes the padding mask to the plain layers; equal outputs on
    # padded rows show the wrappers pass it on too, also through a
    # compiled predict (where no tensor carries it as an attribute).
    expected = ops.convert_to_numpy(stripped(ids))
    np.testing.assert_allclose(
        ops.convert_to_numpy(pruned(ids)), expected, atol=1e-5
    )
    np.testing.assert_allclose(
        pruned.predict(ids, verbose=0), expected, atol=1e-5
    )
    np.testing.assert_allclose(
        stripped.predict(ids, verbose=0), expected, atol=1e-5
    )
    assert sparsity_total(sparsity_report(stripped)) == pytest.approx(
        0.5, abs=0.01
    )
