import keras
import numpy as np
import pytest
from keras import ops

from kerasbig.models import VAE


def _vae(split_outputs=False, **kwargs):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((12,))
    hidden = keras.layers.Dense(16, activation="relu")(inputs)
    if split_outputs:
        outputs = [keras.layers.Dense(3)(hidden), keras.layers.Dense(3)(hidden)]
    else:
        outputs = keras.layers.Dense(6)(hidden)
    encoder = keras.Model(inputs, outputs)
    decoder = keras.Sequential(
        [
            keras.Input((3,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(12, activation="sigmoid"),
        ]
    )
    return VAE(encoder, decoder, seed=2, **kwargs)


def _data(n=64):
    return np.random.default_rng(0).uniform(size=(n, 12)).astype("float32")


@pytest.mark.parametrize("reconstruction_loss", ["bce", "mse"])
def test_evaluate_equals_the_elbo_formula(reconstruction_loss):
    vae = _vae(beta=0.5, reconstruction_loss=reconstruction_loss)
    vae.compile(optimizer="adam")
    x = _data(32)
    logs = vae.evaluate(x, batch_size=32, verbose=0, return_dict=True)
    z_mean, z_log_var = vae.encode(x)
    p = np.clip(vae.decode(z_mean), 1e-7, 1 - 1e-7)
    if reconstruction_loss == "bce":
        recon = -(x * np.log(p) + (1 - x) * np.log(1 - p)).sum(1).mean()
    else:
        recon = ((x - vae.decode(z_mean)) ** 2).sum(1).mean()
    kl = -0.5 * (1 + z_log_var - z_mean**2 - np.exp(z_log_var)).sum(1).mean()
    np.testing.assert_allclose(logs["reconstruction_loss"], recon, rtol=1e-4)
    np.testing.assert_allclose(logs["kl_loss"], kl, rtol=1e-4)
    np.testing.assert_allclose(logs["loss"], recon + 0.5 * kl, rtol=1e-4)
    np.testing.assert_allclose(logs["elbo"], -(recon + kl), rtol=1e-4)
    np.testing.assert_allclose(vae.reconstruct(x), vae.decode(z_mean))


def test_kl_warmup_counts_train_steps_and_starts_at_zero():
    vae = _vae(kl_warmup_steps=4)
    vae.compile(optimizer=keras.optimizers.SGD(0.0))
    x = _data(16)
    history = vae.fit(x, batch_size=16, epochs=1, verbose=0)
    # Step 0: the KL weight is 0, so the loss is the reconstruction alone.
    np.testing.assert_allclose(
        history.history["loss"], history.history["reconstruction_loss"]
    )
    history = vae.fit(x, batch_size=16, epochs=2, verbose=0)
    assert float(ops.convert_to_numpy(vae.kl_step)) == 3.0
    # Steps 1 and 2 (lr 0, so the same KL; the noise differs): KL weights
    # 1/4 and 2/4.
    logs = {k: np.asarray(v) for k, v in history.history.items()}
    np.testing.assert_allclose(logs["kl_loss"][0], logs["kl_loss"][1])
    np.testing.assert_allclose(
        logs["loss"] - logs["reconstruction_loss"],
        logs["kl_loss"] * [0.25, 0.5],
        rtol=1e-4,
    )
    # Evaluation does not advance the schedule.
    vae.evaluate(x, verbose=0)
    assert float(ops.convert_to_numpy(vae.kl_step)) == 3.0


@pytest.mark.parametrize("split_outputs", [False, True])
def test_fit_saves_reloads_and_continues_identically(split_outputs, tmp_path):
    vae = _vae(split_outputs=split_outputs, kl_warmup_steps=10)
    vae.compile(optimizer="adam")
    x = _data()
    fit = dict(batch_size=16, epochs=1, shuffle=False, verbose=0)
    vae.fit(x, **fit)
    vae.save(tmp_path / "vae.keras")
    restored = keras.saving.load_model(tmp_path / "vae.keras")
    assert float(ops.convert_to_numpy(restored.kl_step)) == 4.0
    vae.fit(x, **fit)
    restored.fit(x, **fit)
    for a, b in zip(vae.weights, restored.weights, strict=True):
        np.testing.assert_allclose(
            ops.convert_to_numpy(a),
            ops.convert_to_numpy(b),
            rtol=1e-5,
            atol=1e-6,
        )
    assert vae.sample(3, seed=1).shape == (3, 12)
    np.testing.assert_allclose(
        vae.sample(3, seed=1), restored.sample(3, seed=1), atol=1e-5
    )


def test_call_returns_reconstruction_and_posterior():
    vae = _vae()
    out = vae(_data(5))
    assert sorted(out) == ["reconstruction", "z_log_var", "z_mean"]
    assert tuple(out["reconstruction"].shape) == (5, 12)
    assert vae.latent_dim == 3


def test_bad_arguments_and_mismatched_networks():
    vae = _vae()
    with pytest.raises(ValueError, match="VAE: `beta` must be"):
        VAE(vae.encoder, vae.decoder, beta=-1)
    with pytest.raises(ValueError, match="`kl_warmup_steps` must be"):
        VAE(vae.encoder, vae.decoder, kl_warmup_steps=1.5)
    with pytest.raises(ValueError, match="`reconstruction_loss` must be"):
        VAE(vae.encoder, vae.decoder, reconstruction_loss="l1")
    with pytest.raises(ValueError, match="`encoder` must be a Keras model"):
        VAE(None, vae.decoder)
    small = keras.Sequential([keras.Input((3,)), keras.layers.Dense(5)])
    bad = VAE(vae.encoder, small)
    bad.compile(optimizer="adam")
    with pytest.raises(ValueError, match="decoder must return the inputs'"):
        bad.fit(_data(8), verbose=0)
    odd = keras.Sequential([keras.Input((12,)), keras.layers.Dense(5)])
    with pytest.raises(ValueError, match="even last dimension"):
        VAE(odd, vae.decoder)(_data(2))
    with pytest.raises(ValueError, match="`n` must be an int >= 1"):
        vae.sample(0)
