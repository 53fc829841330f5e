import keras
import numpy as np
import pytest
from keras import ops

from kerasbig.layers import SpectralNormalization
from kerasbig.models import GAN
from kerasbig.models import WGANGP
from kerasbig.models import ConditionalGAN
from kerasbig.models import dcgan_discriminator
from kerasbig.models import dcgan_generator
from kerasbig.models.generative.gan import discriminator_loss
from kerasbig.models.generative.gan import generator_loss

SHAPE = (8, 8, 1)


def _images(n=64, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (n,) + SHAPE).astype("float32")


def _dcgan(kind="gan", **kwargs):
    keras.utils.set_random_seed(0)
    classes = 3 if kind == "cgan" else None
    generator = dcgan_generator(
        SHAPE, latent_dim=8, filters=8, num_classes=classes
    )
    discriminator = dcgan_discriminator(SHAPE, filters=8, num_classes=classes)
    if kind == "cgan":
        return ConditionalGAN(
            generator, discriminator, 8, num_classes=3, seed=1, **kwargs
        )
    if kind == "wgan":
        return WGANGP(generator, discriminator, 8, seed=1, **kwargs)
    return GAN(generator, discriminator, 8, seed=1, **kwargs)


def _fit_data(kind):
    x = _images()
    y = np.arange(len(x)) % 3
    return (x, y) if kind == "cgan" else (x,)


@pytest.mark.parametrize("loss", ["bce", "hinge", "wasserstein"])
def test_losses_equal_their_formulas(loss):
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(2, 16, 1)).astype("float32")
    softplus = lambda z: np.log1p(np.exp(z))  # noqa: E731
    relu = lambda z: np.maximum(z, 0)  # noqa: E731
    expected_d = {
        "bce": softplus(-real).mean() + softplus(fake).mean(),
        "hinge": relu(1 - real).mean() + relu(1 + fake).mean(),
        "wasserstein": fake.mean() - real.mean(),
    }[loss]
    expected_g = softplus(-fake).mean() if loss == "bce" else -fake.mean()
    np.testing.assert_allclose(
        ops.convert_to_numpy(discriminator_loss(loss, real, fake)),
        expected_d,
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        ops.convert_to_numpy(generator_loss(loss, fake)), expected_g, rtol=1e-5
    )


@pytest.mark.parametrize("kind, steps", [("gan", 2), ("wgan", 3), ("cgan", 1)])
def test_fit_counts_one_generator_step_per_k_discriminator_steps(kind, steps):
    if kind == "wgan":
        gan = _dcgan(kind, critic_steps=steps)
    else:
        gan = _dcgan(kind, discriminator_steps=steps)
    gan.compile()
    history = gan.fit(*_fit_data(kind), batch_size=16, epochs=2, verbose=0)
    assert int(gan.g_optimizer.iterations) == 8
    assert int(gan.d_optimizer.iterations) == 8 * steps
    expected = {"d_loss", "g_loss", "real_accuracy", "fake_accuracy"}
    if kind == "wgan":
        expected.add("gradient_penalty")
    assert set(history.history) == expected
    for values in history.history.values():
        assert np.isfinite(values).all()


def _weights(model):
    return [ops.convert_to_numpy(v) for v in model.weights]


def _optimizer_state(gan):
    return [
        ops.convert_to_numpy(v)
        for v in gan.g_optimizer.variables + gan.d_optimizer.variables
    ]


# Per push the plain GAN's round trip runs on every backend; the other
# kinds on PyTorch only (seconds there), everywhere in the full tier.
@pytest.mark.parametrize(
    "kind",
    [
        "gan",
        pytest.param("wgan", marks=pytest.mark.per_push_on("torch")),
        pytest.param("cgan", marks=pytest.mark.per_push_on("torch")),
    ],
)
def test_save_reload_continues_from_the_same_state(kind, tmp_path):
    gan = _dcgan(kind, r1_weight=1.0) if kind == "gan" else _dcgan(kind)
    gan.compile(loss="hinge" if kind == "gan" else None)
    data = _fit_data(kind)
    fit = dict(batch_size=16, epochs=1, shuffle=False, verbose=0)
    gan.fit(*data, **fit)
    path = tmp_path / "gan.keras"
    gan.save(path)
    restored = keras.saving.load_model(path)
    assert type(restored) is type(gan)
    assert restored.loss_kind == gan.loss_kind
    for a, b in zip(_weights(gan), _weights(restored), strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(
        _optimizer_state(gan), _optimizer_state(restored), strict=True
    ):
        np.testing.assert_array_equal(a, b)
    # One more epoch on both: same noise (the seed state is saved), same
    # optimizer moments, so the same weights.
    gan.fit(*data, **fit)
    restored.fit(*data, **fit)
    assert int(restored.g_optimizer.iterations) == 8
    for a, b in zip(_weights(gan), _weights(restored), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


class _Constant(keras.layers.Layer):
    """A generator whose output is a trainable vector `c` for any noise."""

    def build(self, input_shape):
        self.c = self.add_weight(shape=(2,), initializer="zeros", name="c")

    def call(self, z):
        return ops.zeros_like(z[:, :2]) + self.c


@pytest.mark.parametrize("r1_weight", [0.0, 2.0])
def test_wgan_gp_step_equals_the_closed_form(r1_weight):
    # Linear critic D(x) = w.x + b, constant generator G(z) = c:
    # d_loss = w.c - w.mean(real) + lam (|w| - 1)**2 + r1/2 |w|**2, so
    # grad_w = c - mean(real) + 2 lam (|w| - 1) w/|w| + r1 w, grad_b = 0;
    # then g_loss = -(w'.c + b) with the new w', so grad_c = -w'.
    generator = keras.Sequential([keras.Input((3,)), _Constant()])
    critic = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    w0 = np.array([[0.6], [-1.7]], "float32")
    critic.set_weights([w0, np.array([0.3], "float32")])
    generator.set_weights([np.array([0.5, -0.25], "float32")])
    gan = WGANGP(
        generator,
        critic,
        latent_dim=3,
        critic_steps=1,
        gradient_penalty_weight=10.0,
        r1_weight=r1_weight,
    )
    lr = 0.01
    gan.compile(
        g_optimizer=keras.optimizers.SGD(lr),
        d_optimizer=keras.optimizers.SGD(lr),
    )
    real = np.array([[1.0, 2.0], [3.0, -1.0], [0.0, 0.5]], "float32")
    gan.fit(real, batch_size=3, epochs=1, verbose=0)
    w = w0[:, 0]
    c = np.array([0.5, -0.25])
    norm = np.linalg.norm(w)
    grad_w = c - real.mean(0) + 20 * (norm - 1) * w / norm + r1_weight * w
    w_new = w - lr * grad_w
    kernel, bias = critic.get_weights()
    np.testing.assert_allclose(kernel[:, 0], w_new, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bias, [0.3], rtol=1e-6)
    np.testing.assert_allclose(
        generator.get_weights()[0], c + lr * w_new, rtol=1e-5, atol=1e-6
    )


def test_evaluate_reports_losses_without_changing_weights():
    gan = _dcgan()
    gan.compile()
    gan.fit(_images(), batch_size=16, epochs=1, verbose=0)
    before = _weights(gan)
    logs = gan.evaluate(
        _images(32, seed=1), batch_size=16, verbose=0, return_dict=True
    )
    assert set(logs) == {"d_loss", "g_loss", "real_accuracy", "fake_accuracy"}
    # The seed generator's state moves on; every other weight is unchanged.
    for variable, a, b in zip(gan.weights, before, _weights(gan), strict=True):
        if "seed_generator" not in variable.path:
            np.testing.assert_array_equal(a, b)


def test_generate_is_seeded_and_conditional_labels_are_checked():
    gan = _dcgan()
    np.testing.assert_array_equal(
        gan.generate(4, seed=3), gan.generate(4, seed=3)
    )
    assert gan.generate(4, seed=3).shape == (4,) + SHAPE
    cgan = _dcgan("cgan")
    assert cgan.generate(5, seed=0).shape == (5,) + SHAPE
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\)"):
        cgan.generate([0, 3])
    with pytest.raises(ValueError, match="1-D sequence of ints"):
        cgan.generate([[0.5]])
    with pytest.raises(ValueError, match="`n` must be an int >= 1"):
        gan.generate(0)


def test_conditional_gan_needs_labels():
    cgan = _dcgan("cgan")
    cgan.compile()
    with pytest.raises(ValueError, match=r"fit\(images, labels\)"):
        cgan.fit(_images(), batch_size=16, epochs=1, verbose=0)


def test_bad_arguments_raise_clear_errors():
    generator = dcgan_generator(SHAPE, latent_dim=8, filters=4)
    discriminator = dcgan_discriminator(SHAPE, filters=4)
    with pytest.raises(ValueError, match="GAN: `latent_dim` must be"):
        GAN(generator, discriminator, latent_dim=0)
    with pytest.raises(ValueError, match="`discriminator_steps` must be"):
        GAN(generator, discriminator, 8, discriminator_steps=0)
    with pytest.raises(ValueError, match="`generator` must be a Keras model"):
        GAN("generator", discriminator, 8)
    with pytest.raises(ValueError, match="`r1_weight` must be"):
        GAN(generator, discriminator, 8, r1_weight=-1)
    with pytest.raises(ValueError, match="WGANGP: `critic_steps`"):
        WGANGP(generator, discriminator, 8, critic_steps=0)
    with pytest.raises(ValueError, match="`gradient_penalty_weight`"):
        WGANGP(generator, discriminator, 8, gradient_penalty_weight=-1.0)
    with pytest.raises(ValueError, match="`critic_steps`; `discriminator_"):
        WGANGP(generator, discriminator, 8, discriminator_steps=3)
    with pytest.raises(ValueError, match="ConditionalGAN: `num_classes`"):
        ConditionalGAN(generator, discriminator, 8, num_classes=1)
    gan = GAN(generator, discriminator, 8)
    with pytest.raises(ValueError, match="`loss` must be one of"):
        gan.compile(loss="mse")
    with pytest.raises(ValueError, match="`optimizer` is not supported"):
        gan.compile(optimizer="adam")
    same = keras.optimizers.Adam()
    with pytest.raises(ValueError, match="its own optimizer instance"):
        gan.compile(g_optimizer=same, d_optimizer=same)


# Keras layers only: per push where a fit is quick.
@pytest.mark.per_push_on("tensorflow", "torch")
def test_dcgan_builders_fit_image_shapes():
    for shape, start in [((8, 8, 1), 4), ((28, 28, 1), 7), ((32, 32, 3), 4)]:
        generator = dcgan_generator(shape, latent_dim=4, filters=4)
        assert generator.output_shape == (None,) + shape
        assert generator.get_layer("reshape").output.shape[1] == start
        assert dcgan_discriminator(shape, filters=4).output_shape == (None, 1)
    sn = dcgan_discriminator(
        (16, 16, 3), filters=4, spectral_normalization=True
    )
    wrapped = [
        layer for layer in sn.layers if isinstance(layer, SpectralNormalization)
    ]
    assert len(wrapped) == 3  # two convolutions and the score
    with pytest.raises(ValueError, match="height and width >= 8"):
        dcgan_generator((4, 4, 1))


def test_spectral_normalization_gan_trains():
    keras.utils.set_random_seed(0)
    gan = GAN(
        dcgan_generator(SHAPE, latent_dim=4, filters=4),
        dcgan_discriminator(SHAPE, filters=4, spectral_normalization=True),
        latent_dim=4,
    )
    gan.compile(loss="hinge")
    history = gan.fit(_images(32), batch_size=16, epochs=1, verbose=0)
    assert np.isfinite(history.history["d_loss"]).all()


def test_mixed_float16_wraps_both_optimizers_for_loss_scaling():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        gan = _dcgan()
        gan.compile()
        history = gan.fit(_images(32), batch_size=16, epochs=1, verbose=0)
    finally:
        keras.config.set_dtype_policy(previous)
    for optimizer in (gan.g_optimizer, gan.d_optimizer):
        assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
    # The hidden layers compute in float16; the builders keep the image
    # and the score in float32, as Keras advises for model outputs.
    assert gan.generator.get_layer("up0").compute_dtype == "float16"
    assert gan.discriminator.get_layer("down0").compute_dtype == "float16"
    assert gan.generate(2, seed=0).dtype == np.float32
    for values in history.history.values():
        assert np.isfinite(values).all()
    assert int(gan.g_optimizer.iterations) == 2


@pytest.mark.skipif(
    keras.backend.backend() != "torch", reason="PyTorch's CPU kernels"
)
def test_float16_single_channel_convolution_trains_or_says_why():
    # A user's generator whose float16 output convolution has one
    # channel: on CPUs without float16 oneDNN kernels PyTorch cannot
    # backpropagate it, and the step must say so in one line.
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        keras.utils.set_random_seed(0)
        generator = keras.Sequential(
            [
                keras.Input((8,)),
                keras.layers.Dense(4 * 4 * 8),
                keras.layers.Reshape((4, 4, 8)),
                keras.layers.Conv2DTranspose(8, 4, strides=2, padding="same"),
                keras.layers.Conv2D(1, 3, padding="same", activation="tanh"),
            ]
        )
        gan = GAN(generator, dcgan_discriminator(SHAPE, filters=8), 8, seed=1)
        gan.compile()
        try:
            history = gan.fit(_images(32), batch_size=16, epochs=1, verbose=0)
        except RuntimeError as error:
            message = str(error)
            assert message.startswith("PyTorch cannot backpropagate"), message
            assert "dtype='float32'" in message
            return
    finally:
        keras.config.set_dtype_policy(previous)
    for values in history.history.values():
        assert np.isfinite(values).all()
