"""The GAN, conditional GAN and VAE recipes: smoke runs on every backend,
data sources, resume after SIGKILL, NaN handling, and (large) the quality
bars of their default runs on digits."""

import json
import pathlib

import keras
import numpy as np
import pytest

from kerasbig.data import load_image_data
from kerasbig.models import dcgan_generator
from kerasbig.training import TrainingStopped
from kerasbig.training import image_frechet_distance
from kerasbig.training import train_feature_classifier

PIL_IMAGE = pytest.importorskip("PIL.Image")
RECIPES = pathlib.Path(__file__).resolve().parents[2] / "recipes"


# Recipe runs: per push on TensorFlow; on JAX and PyTorch in the full
# tier (quickstart's smoke runs on every backend per push).
pytestmark = pytest.mark.tensorflow_per_push


@pytest.mark.backend_agnostic
@pytest.mark.parametrize("name", ["dcgan", "conditional_gan", "vae"])
def test_help_explains_every_flag(name, load_recipe, check_flags):
    check_flags(load_recipe(name), name)


def test_dcgan_smoke_writes_models_samples_and_metrics(
    load_recipe, check_report, tmp_path
):
    metrics = load_recipe("dcgan").main(
        ["--smoke", "--samples-every", "1", "--output-dir", str(tmp_path)]
    )
    check_report(metrics, "dcgan", tmp_path)
    assert metrics["backend"] == keras.backend.backend()
    assert metrics["epochs"] == 2
    assert set(metrics["frechet_distance"]) == {
        "untrained",
        "trained",
        "ema",
        "improvement",
    }
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["frechet_distance"] == metrics["frechet_distance"]
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == [
        "samples_epoch_001.png",
        "samples_epoch_002.png",
    ]
    generator = keras.saving.load_model(tmp_path / "generator.keras")
    assert generator.output_shape == (None, 8, 8, 1)
    gan = keras.saving.load_model(tmp_path / "gan.keras")
    assert int(gan.g_optimizer.iterations) == 2 * 23
    assert len((tmp_path / "log.csv").read_text().splitlines()) == 3
    assert not (tmp_path / "backup").exists()  # removed after training


def test_wgan_gp_smoke_on_an_image_folder(load_recipe, tmp_path):
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        (tmp_path / "images" / name).mkdir(parents=True)
        for i in range(12):
            pixels = rng.integers(0, 255, (20, 20, 3), dtype="uint8")
            PIL_IMAGE.fromarray(pixels).save(
                tmp_path / "images" / name / f"{i}.png"
            )
    metrics = load_recipe("dcgan").main(
        [
            "--smoke",
            "--model",
            "wgan-gp",
            "--discriminator-steps",
            "2",
            "--data",
            str(tmp_path / "images"),
            "--image-size",
            "16",
            "--batch-size",
            "8",
            "--eval-samples",
            "20",
            "--output-dir",
            str(tmp_path / "run"),
        ]
    )
    assert metrics["image_shape"] == [16, 16, 3]
    assert "gradient_penalty" in metrics["final"]


def test_conditional_gan_smoke(load_recipe, check_report, tmp_path):
    metrics = load_recipe("conditional_gan").main(
        ["--smoke", "--samples-every", "2", "--output-dir", str(tmp_path)]
    )
    check_report(metrics, "conditional_gan", tmp_path)
    assert metrics["classes"] == [str(i) for i in range(10)]
    for name in ("untrained", "trained", "ema"):
        assert 0 <= metrics[name]["class_accuracy"] <= 1
    image = PIL_IMAGE.open(tmp_path / "samples" / "samples_epoch_002.png")
    assert image.size[1] > image.size[0]  # ten rows (classes), six columns


def test_vae_smoke_reports_elbo_and_writes_pngs(
    load_recipe, check_report, tmp_path
):
    metrics = load_recipe("vae").main(
        ["--smoke", "--output-dir", str(tmp_path)]
    )
    check_report(metrics, "vae", tmp_path)
    test = metrics["test"]
    assert test["elbo"] == pytest.approx(
        -(test["reconstruction_loss"] + test["kl_loss"]), rel=1e-4
    )
    for name in ("reconstructions.png", "samples.png", "vae.keras"):
        assert (tmp_path / name).is_file()


def test_nan_loss_stops_the_recipe_with_a_message(load_recipe, tmp_path):
    # A learning rate this large sends the VAE's log-variance to inf.
    with pytest.raises(TrainingStopped, match="StopOnNaN: .* is nan") as info:
        load_recipe("vae").main(
            [
                "--smoke",
                "--epochs",
                "3",
                "--learning-rate",
                "1e8",
                "--output-dir",
                str(tmp_path),
            ]
        )
    assert "training stopped" in str(info.value)


@pytest.mark.full
@pytest.mark.tensorflow_only
def test_sigkill_in_epoch_2_resumes_and_matches_an_uninterrupted_run(
    kill_and_resume,
):
    common = [
        "--epochs",
        "4",
        "--batch-size",
        "8",
        "--classifier-epochs",
        "1",
        "--eval-samples",
        "200",
        "--ema-decay",
        "0",
    ]
    a, b = kill_and_resume("dcgan", common, epochs=4)
    assert a["epochs"] == b["epochs"] == 4
    for key in ("d_loss", "g_loss"):
        np.testing.assert_allclose(a["final"][key], b["final"][key], rtol=1e-3)
    np.testing.assert_allclose(
        a["frechet_distance"]["trained"],
        b["frechet_distance"]["trained"],
        rtol=1e-3,
    )


@pytest.fixture(scope="module")
def digits_judge():
    """A digits classifier trained here, independent of the recipes' own
    (other seed): its features score the Fréchet distance."""
    data = load_image_data("digits")
    classifier, features = train_feature_classifier(
        data.x_train * 2 - 1, data.y_train, 10, epochs=40, seed=123
    )
    return data, classifier, features


@pytest.mark.large
def test_dcgan_default_run_beats_the_untrained_generator_5x(
    load_recipe, digits_judge, tmp_path
):
    data, _, features = digits_judge
    load_recipe("dcgan").main(["--output-dir", str(tmp_path)])
    real = data.x_test * 2 - 1
    z = np.random.default_rng(7).standard_normal((1000, 32)).astype("float32")
    keras.utils.set_random_seed(0)
    untrained = dcgan_generator((8, 8, 1), latent_dim=32).predict(z, verbose=0)
    trained = keras.saving.load_model(tmp_path / "generator.keras").predict(
        z, verbose=0
    )
    before = image_frechet_distance(features, real, untrained)
    after = image_frechet_distance(features, real, trained)
    assert after * 5 <= before, (before, after)


@pytest.mark.large
def test_conditional_gan_draws_the_requested_digit_80_percent(
    load_recipe, digits_judge, tmp_path
):
    _, classifier, _ = digits_judge
    load_recipe("conditional_gan").main(["--output-dir", str(tmp_path)])
    generator = keras.saving.load_model(tmp_path / "generator.keras")
    labels = np.arange(1000) % 10
    z = np.random.default_rng(7).standard_normal((1000, 32)).astype("float32")
    images = generator.predict([z, labels], verbose=0)
    predicted = classifier.predict(images, verbose=0).argmax(-1)
    assert np.mean(predicted == labels) >= 0.8


@pytest.mark.large
def test_vae_default_run_reports_a_test_elbo(load_recipe, tmp_path):
    metrics = load_recipe("vae").main(["--output-dir", str(tmp_path)])
    # Baseline: independent pixels, each a Bernoulli with its mean over the
    # training images (about -27.1 nats per test image). The bound of the
    # trained VAE must beat it by 4 nats (the default run: 5.0).
    data = load_image_data("digits")
    p = np.clip(data.x_train.mean(0), 1e-7, 1 - 1e-7)
    x = data.x_test
    baseline = (x * np.log(p) + (1 - x) * np.log(1 - p)).sum((1, 2, 3)).mean()
    assert metrics["test"]["elbo"] > baseline + 4, (baseline, metrics)
    assert (tmp_path / "reconstructions.png").is_file()
    assert (tmp_path / "samples.png").is_file()
