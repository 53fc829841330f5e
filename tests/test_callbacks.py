import keras
import numpy as np
import pytest
from keras import ops

from kerasbig.callbacks import GeneratorEMA
from kerasbig.callbacks import SampleGrid
from kerasbig.callbacks import StopOnNaN
from kerasbig.callbacks import save_image_grid
from kerasbig.models import GAN
from kerasbig.models import VAE
from kerasbig.models import ConditionalGAN
from kerasbig.models import dcgan_discriminator
from kerasbig.models import dcgan_generator

PIL_IMAGE = pytest.importorskip("PIL.Image")
SHAPE = (8, 8, 1)


def _gan(num_classes=None):
    keras.utils.set_random_seed(0)
    generator = dcgan_generator(
        SHAPE, latent_dim=4, filters=4, num_classes=num_classes
    )
    discriminator = dcgan_discriminator(
        SHAPE, filters=4, num_classes=num_classes
    )
    if num_classes:
        return ConditionalGAN(generator, discriminator, 4, num_classes)
    return GAN(generator, discriminator, 4)


def _images(n=32):
    return np.random.default_rng(0).uniform(-1, 1, (n,) + SHAPE)


def test_sample_grid_for_gan_conditional_gan_and_vae(tmp_path):
    gan = _gan()
    gan.compile()
    gan.fit(
        _images(),
        epochs=2,
        batch_size=16,
        verbose=0,
        callbacks=[SampleGrid(tmp_path / "gan", num_samples=10, every=2)],
    )
    assert [p.name for p in (tmp_path / "gan").iterdir()] == [
        "samples_epoch_002.png"
    ]
    # 10 images: 4 columns x 3 rows of 8x8 cells, 1-pixel borders, zoom 4.
    image = PIL_IMAGE.open(tmp_path / "gan" / "samples_epoch_002.png")
    assert image.size == ((4 * 9 + 1) * 4, (3 * 9 + 1) * 4)

    cgan = _gan(num_classes=3)
    cgan.compile()
    grid = SampleGrid(tmp_path / "cgan", num_samples=6)
    cgan.fit(
        _images(), np.arange(32) % 3, epochs=1, verbose=0, callbacks=[grid]
    )
    # One row per class, as many columns as samples per class.
    image = PIL_IMAGE.open(tmp_path / "cgan" / "samples_epoch_001.png")
    assert image.size == ((2 * 9 + 1) * 4, (3 * 9 + 1) * 4)

    encoder = keras.Sequential(
        [keras.Input(SHAPE), keras.layers.Flatten(), keras.layers.Dense(4)]
    )
    decoder = keras.Sequential(
        [
            keras.Input((2,)),
            keras.layers.Dense(64, activation="sigmoid"),
            keras.layers.Reshape(SHAPE),
        ]
    )
    vae = VAE(encoder, decoder)
    vae.compile(optimizer="adam")
    vae.fit(
        (_images() + 1) / 2,
        epochs=1,
        verbose=0,
        callbacks=[SampleGrid(tmp_path / "vae", 4, value_range=(0, 1))],
    )
    assert (tmp_path / "vae" / "samples_epoch_001.png").is_file()


class _RecordWeights(keras.callbacks.Callback):
    def __init__(self, network):
        super().__init__()
        self.network = network
        self.seen = []

    def on_train_batch_end(self, batch, logs=None):
        if hasattr(self.model, "jax_state_sync"):
            self.model.jax_state_sync()
        self.seen.append(
            [ops.convert_to_numpy(v) for v in self.network.trainable_weights]
        )


def test_generator_ema_equals_the_running_average(tmp_path):
    gan = _gan()
    gan.compile()
    initial = [ops.convert_to_numpy(v) for v in gan.generator.trainable_weights]
    record = _RecordWeights(gan.generator)
    ema = GeneratorEMA(decay=0.8)
    # The grid samples from the average between epochs (on JAX, predict
    # must not free the average's buffers).
    grid = SampleGrid(tmp_path, num_samples=4, ema=ema)
    gan.fit(
        _images(),
        epochs=2,
        batch_size=8,
        verbose=0,
        callbacks=[ema, record, grid],
    )
    expected = initial
    for weights in record.seen:
        expected = [
            0.8 * e + 0.2 * w for e, w in zip(expected, weights, strict=True)
        ]
    trained = [ops.convert_to_numpy(v) for v in gan.generator.trainable_weights]
    with ema.averaged():
        for variable, value in zip(
            gan.generator.trainable_weights, expected, strict=True
        ):
            np.testing.assert_allclose(
                ops.convert_to_numpy(variable), value, rtol=1e-5
            )
    for variable, value in zip(
        gan.generator.trainable_weights, trained, strict=True
    ):
        np.testing.assert_array_equal(ops.convert_to_numpy(variable), value)
    ema.apply()
    np.testing.assert_allclose(
        ops.convert_to_numpy(gan.generator.trainable_weights[0]),
        expected[0],
        rtol=1e-5,
    )


def test_generator_ema_errors():
    with pytest.raises(ValueError, match="`decay` must be in"):
        GeneratorEMA(decay=1.0)
    with pytest.raises(RuntimeError, match="no average yet"):
        GeneratorEMA().apply()
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match="no attribute `generator`"):
        model.fit(
            np.ones((4, 2)),
            np.ones((4, 1)),
            verbose=0,
            callbacks=[GeneratorEMA()],
        )


class _PoisonedBatches(keras.utils.PyDataset):
    """Four batches; batch 2 holds a NaN once `poison` is set."""

    def __init__(self):
        super().__init__()
        self.poison = False
        rng = np.random.default_rng(0)
        self.x = rng.normal(size=(4, 8, 3)).astype("float32")
        self.y = self.x.sum(-1, keepdims=True)

    def __len__(self):
        return 4

    def __getitem__(self, index):
        x = self.x[index].copy()
        if self.poison and index == 1:
            x[0, 0] = np.nan
        return x, self.y[index]


class _PoisonFrom(keras.callbacks.Callback):
    def __init__(self, data, epoch):
        super().__init__()
        self.data, self.epoch = data, epoch

    def on_epoch_begin(self, epoch, logs=None):
        self.data.poison = epoch >= self.epoch


def test_stop_on_nan_keeps_the_last_good_checkpoint(tmp_path, capsys):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    path = tmp_path / "checkpoint" / "last_good.keras"
    guard = StopOnNaN(path)
    data = _PoisonedBatches()
    history = model.fit(
        data,
        epochs=5,
        shuffle=False,
        verbose=0,
        callbacks=[_PoisonFrom(data, 2), guard],
    )
    assert len(history.history["loss"]) == 3  # stopped in the third epoch
    assert guard.last_good_epoch == 1
    message = capsys.readouterr().out
    assert "StopOnNaN: loss is nan at epoch 3, batch 2" in message
    assert f"{path} (end of epoch 2)" in message
    assert guard.stopped_reason in message
    restored = keras.saving.load_model(path)
    for weight in restored.weights:
        assert np.isfinite(ops.convert_to_numpy(weight)).all()
    assert not list(path.parent.glob("*.partial*"))


def test_stop_on_nan_without_a_good_epoch_says_so(tmp_path, capsys):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    guard = StopOnNaN(tmp_path / "never.keras")
    data = _PoisonedBatches()
    model.fit(
        data, epochs=2, verbose=0, callbacks=[_PoisonFrom(data, 0), guard]
    )
    assert "No epoch finished cleanly" in capsys.readouterr().out
    assert not (tmp_path / "never.keras").exists()
    with pytest.raises(ValueError, match="must end in `.keras`"):
        StopOnNaN(tmp_path / "model.h5")


def test_save_image_grid_checks_shapes(tmp_path):
    path = save_image_grid(np.zeros((3, 10, 12, 3)), tmp_path / "rgb.png")
    assert PIL_IMAGE.open(path).mode == "RGB"
    with pytest.raises(ValueError, match="1 or 3 channels"):
        save_image_grid(np.zeros((2, 8, 8, 2)), tmp_path / "bad.png")


def test_entity_metrics_log_seqevals_micro_scores_each_epoch():
    from kerasbig.callbacks import EntityMetrics
    from kerasbig.metrics import entity_scores

    names = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    rng = np.random.default_rng(0)
    tokens = rng.integers(1, 20, (16, 6)).astype("int32")
    tags = (tokens % 5).astype("int32")  # learnable: the tag is id % 5
    lengths = rng.integers(2, 7, 16)
    inputs = keras.Input((6,), dtype="int32")
    logits = keras.layers.Dense(5)(keras.layers.Embedding(20, 8)(inputs))
    model = keras.Model(inputs, logits)
    model.compile(
        keras.optimizers.Adam(0.05),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )

    tagger = keras.Model(inputs, keras.ops.argmax(logits, -1))
    metrics = EntityMetrics(tokens, tags, names, lengths=lengths)
    metrics.set_model(tagger)
    untrained = {}
    metrics.on_epoch_end(0, untrained)
    model.fit(tokens, tags, epochs=3, verbose=0)
    logs = {}
    metrics.on_epoch_end(2, logs)
    predicted = ops.convert_to_numpy(tagger(tokens))

    def named(ids):
        return [
            [names[t] for t in row[:n]]
            for row, n in zip(ids, lengths, strict=True)
        ]

    expected = entity_scores(named(tags), named(predicted))["micro"]
    assert logs["val_entity_precision"] == expected["precision"]
    assert logs["val_entity_recall"] == expected["recall"]
    assert logs["val_entity_f1"] == expected["f1"]
    assert logs["val_entity_f1"] > untrained["val_entity_f1"] + 0.3
