"""DCGAN (or WGAN-GP) on images, trained with plain `model.fit()`.

Trains `kerasbig.models.GAN` (or `WGANGP`) with DCGAN networks on
whichever Keras backend is active. By default the data are scikit-learn's
bundled 8x8 handwritten digits (no download); `--data tfds:mnist` reads a
TensorFlow Datasets image set and `--data path/to/folder` a folder with
one subfolder of images per class.

Quality is measured the FID way with a feature extractor that needs no
download: a small CNN classifier is trained on the real training images,
and the Fréchet distance between its penultimate features on generated
and on real test images is reported, for the trained generator, its
weight average (EMA) and the untrained generator.

    python -m kerasbig.recipes.dcgan  # digits, a few minutes
    python -m kerasbig.recipes.dcgan --model wgan-gp
    python -m kerasbig.recipes.dcgan --data tfds:mnist --image-size 28
    python -m kerasbig.recipes.dcgan --smoke              # seconds

Outputs in --output-dir: samples/ (a PNG grid every --samples-every
epochs), gan.keras (the whole GAN: resumable), generator.keras (EMA
weights), log.csv, metrics.json. A killed run resumes from its last epoch
when the same command runs again; a NaN loss stops training and keeps
last_good.keras.
"""

import dataclasses

from kerasbig.training import DistributeConfig
from kerasbig.training import ImageDataConfig
from kerasbig.training import answer_help
from kerasbig.training import check_dependencies
from kerasbig.training import option
from kerasbig.training import parse_config


@dataclasses.dataclass
class Config(ImageDataConfig, DistributeConfig):
    model: str = option("gan", "GAN or WGAN-GP", ["gan", "wgan-gp"])
    loss: str = option(
        "bce", "GAN loss (WGAN-GP uses wasserstein)", ["bce", "hinge"]
    )
    epochs: int = option(150, "passes over the training images", minimum=1)
    batch_size: int = option(64, "images per step", minimum=1)
    learning_rate: float = option(
        2e-4, "Adam learning rate of both networks", greater_than=0
    )
    latent_dim: int = option(32, "size of the latent vector", minimum=1)
    filters: int = option(64, "channels of the widest DCGAN block", minimum=1)
    discriminator_steps: int = option(
        1,
        "discriminator (critic) steps per generator step",
        minimum=1,
    )
    r1_weight: float = option(0.0, "R1 penalty gamma (0: off)", minimum=0)
    gradient_penalty_weight: float = option(10.0, "WGAN-GP lambda", minimum=0)
    spectral_normalization: bool = option(
        False, "spectral normalization in the discriminator"
    )
    ema_decay: float = option(
        0.999,
        "decay of the generator weight average (0: off)",
        minimum=0,
        less_than=1,
    )
    samples_every: int = option(
        10, "write a sample grid every N epochs", minimum=1
    )
    eval_samples: int = option(
        1000,
        "generated images scored against the real test images",
        minimum=2,
    )
    classifier_epochs: int = option(
        30,
        "epochs of the feature classifier used for the distance",
        minimum=1,
    )
    seed: int = option(0, "seed of weights, noise and data order", minimum=0)
    output_dir: str = option("runs/dcgan", "where results go")


SMOKE = {"epochs": 2, "classifier_epochs": 1, "eval_samples": 200}

answer_help(Config, __doc__, smoke=SMOKE)  # --help exits here: Keras not loaded

import keras

from kerasbig.data import load_image_data
from kerasbig.models import GAN
from kerasbig.models import WGANGP
from kerasbig.models import dcgan_discriminator
from kerasbig.models import dcgan_generator
from kerasbig.training import fit_generative
from kerasbig.training import image_frechet_distance
from kerasbig.training import run_script
from kerasbig.training import start_run
from kerasbig.training import train_feature_classifier
from kerasbig.training import write_report


def build_gan(config, image_shape):
    generator = dcgan_generator(
        image_shape, latent_dim=config.latent_dim, filters=config.filters
    )
    discriminator = dcgan_discriminator(
        image_shape,
        filters=config.filters,
        spectral_normalization=config.spectral_normalization,
    )
    if config.model == "wgan-gp":
        gan = WGANGP(
            generator,
            discriminator,
            config.latent_dim,
            critic_steps=config.discriminator_steps,
            gradient_penalty_weight=config.gradient_penalty_weight,
            r1_weight=config.r1_weight,
            seed=config.seed,
        )
        gan.compile(
            g_optimizer=keras.optimizers.Adam(config.learning_rate, 0.0, 0.9),
            d_optimizer=keras.optimizers.Adam(config.learning_rate, 0.0, 0.9),
        )
        return gan
    gan = GAN(
        generator,
        discriminator,
        config.latent_dim,
        discriminator_steps=config.discriminator_steps,
        r1_weight=config.r1_weight,
        seed=config.seed,
    )
    gan.compile(
        g_optimizer=keras.optimizers.Adam(config.learning_rate, 0.5),
        d_optimizer=keras.optimizers.Adam(config.learning_rate, 0.5),
        loss=config.loss,
    )
    return gan


def dependencies(config):
    """The optional modules this run needs (`check_dependencies`)."""
    needs = {**config.data_dependencies(), "PIL": "sample grids"}
    return needs


def main(argv=None):
    config = parse_config(Config, argv, __doc__, smoke=SMOKE)
    check_dependencies(dependencies(config))
    with start_run(config) as run:
        output_dir = run.output_dir
        keras.utils.set_random_seed(config.seed)
        data = load_image_data(**config.data_options(), seed=config.seed)
        # The generator ends in tanh: train on [-1, 1].
        x_train, x_test = data.x_train * 2 - 1, data.x_test * 2 - 1
        image_shape = x_train.shape[1:]
        with run.strategy.scope():
            gan = build_gan(config, image_shape)
        _, features = train_feature_classifier(
            x_train,
            data.y_train,
            len(data.class_names),
            epochs=config.classifier_epochs,
            seed=config.seed,
        )

        def distance():
            samples = gan.generate(config.eval_samples, seed=config.seed + 1)
            return image_frechet_distance(features, x_test, samples)

        untrained = distance()
        history, ema, seconds = fit_generative(
            gan,
            x_train,
            epochs=config.epochs,
            batch_size=config.batch_size,
            output_dir=output_dir,
            samples_every=config.samples_every,
            seed=config.seed,
            ema_decay=config.ema_decay,
        )
        trained = distance()
        gan.save(f"{output_dir}/gan.keras")
        distances = {"untrained": untrained, "trained": trained}
        if ema:
            ema.apply()
            distances["ema"] = distance()
        gan.generator.save(f"{output_dir}/generator.keras")
        best = min(distances.values())
        distances["improvement"] = untrained / max(best, 1e-12)
        results = {
            "epochs": history.epoch[-1] + 1,
            "train_seconds": round(seconds, 1),
            "examples": {"train": len(x_train), "test": len(x_test)},
            "model": config.model,
            "image_shape": list(image_shape),
            "final": {k: v[-1] for k, v in history.history.items()},
            "frechet_distance": distances,
        }
        return write_report(
            output_dir,
            recipe="dcgan",
            config=config,
            headline=("frechet_distance", best),
            results=results,
            distribution=run.distribution,
            summary=f"to real test images; untrained {untrained:.3f}, trained "
            f"{trained:.3f}" + (f", EMA {distances['ema']:.3f}" if ema else ""),
        )


if __name__ == "__main__":
    run_script(main)
