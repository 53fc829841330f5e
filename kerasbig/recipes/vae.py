"""Variational autoencoder on images, trained with plain `model.fit()`.

Trains `kerasbig.models.VAE` (Bernoulli decoder, KL warm-up) with MLP
encoder and decoder on whichever Keras backend is active. Data:
scikit-learn's bundled 8x8 digits by default (no download), `--data
tfds:<name>` or a folder with one subfolder of images per class. Pixels
are scaled to [0, 1].

Reports the test ELBO (nats per image, higher is better: the negative
of reconstruction binary cross-entropy plus KL), its two terms, and
writes PNGs: test images above their reconstructions, and samples from
the prior.

    python -m kerasbig.recipes.vae  # digits, about a minute
    python -m kerasbig.recipes.vae --latent-dim 2 --beta 4
    python -m kerasbig.recipes.vae --smoke                # seconds

Outputs in --output-dir: reconstructions.png, samples.png, samples/ (a
grid every --samples-every epochs), vae.keras, log.csv, metrics.json.
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
    epochs: int = option(200, "passes over the training images", minimum=1)
    batch_size: int = option(64, "images per step", minimum=1)
    learning_rate: float = option(1e-3, "Adam learning rate", greater_than=0)
    latent_dim: int = option(8, "size of the latent vector", minimum=1)
    hidden: int = option(
        256, "units of the encoder and decoder layers", minimum=1
    )
    beta: float = option(1.0, "weight of the KL term (beta-VAE)", minimum=0)
    kl_warmup_steps: int = option(
        1000,
        "train steps over which the KL weight rises from 0 to beta",
        minimum=0,
    )
    samples_every: int = option(
        20, "write a sample grid every N epochs", minimum=1
    )
    seed: int = option(0, "seed of weights, noise and data order", minimum=0)
    output_dir: str = option("runs/vae", "where results go")


SMOKE = {"epochs": 2, "kl_warmup_steps": 10}

answer_help(Config, __doc__, smoke=SMOKE)  # --help exits here: Keras not loaded

import keras
import numpy as np

from kerasbig.callbacks import save_image_grid
from kerasbig.data import load_image_data
from kerasbig.models import VAE
from kerasbig.training import fit_generative
from kerasbig.training import run_script
from kerasbig.training import start_run
from kerasbig.training import write_report


def build_vae(config, image_shape):
    size = int(np.prod(image_shape))
    encoder = keras.Sequential(
        [
            keras.Input(image_shape),
            keras.layers.Flatten(),
            keras.layers.Dense(config.hidden, activation="relu"),
            keras.layers.Dense(config.hidden, activation="relu"),
            keras.layers.Dense(2 * config.latent_dim, name="posterior"),
        ],
        name="encoder",
    )
    decoder = keras.Sequential(
        [
            keras.Input((config.latent_dim,)),
            keras.layers.Dense(config.hidden, activation="relu"),
            keras.layers.Dense(config.hidden, activation="relu"),
            keras.layers.Dense(size, activation="sigmoid"),
            keras.layers.Reshape(image_shape),
        ],
        name="decoder",
    )
    vae = VAE(
        encoder,
        decoder,
        beta=config.beta,
        kl_warmup_steps=config.kl_warmup_steps,
        reconstruction_loss="bce",
        seed=config.seed,
    )
    vae.compile(optimizer=keras.optimizers.Adam(config.learning_rate))
    return vae


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
        with run.strategy.scope():
            vae = build_vae(config, data.x_train.shape[1:])
        history, _, seconds = fit_generative(
            vae,
            data.x_train,
            epochs=config.epochs,
            batch_size=config.batch_size,
            output_dir=output_dir,
            samples_every=config.samples_every,
            seed=config.seed,
            value_range=(0, 1),
            validation_data=(data.x_test,),
        )
        test = vae.evaluate(data.x_test, verbose=0, return_dict=True)
        shown = data.x_test[:10]
        save_image_grid(
            np.concatenate([shown, vae.reconstruct(shown)]),
            f"{output_dir}/reconstructions.png",
            columns=10,
            value_range=(0, 1),
        )
        save_image_grid(
            vae.sample(100, seed=config.seed),
            f"{output_dir}/samples.png",
            value_range=(0, 1),
        )
        vae.save(f"{output_dir}/vae.keras")
        results = {
            "epochs": history.epoch[-1] + 1,
            "train_seconds": round(seconds, 1),
            "examples": {"train": len(data.x_train), "test": len(data.x_test)},
            "test": {
                "elbo": test["elbo"],
                "reconstruction_loss": test["reconstruction_loss"],
                "kl_loss": test["kl_loss"],
            },
            "final": {k: v[-1] for k, v in history.history.items()},
        }
        return write_report(
            output_dir,
            recipe="vae",
            config=config,
            headline=("test_elbo", test["elbo"]),
            results=results,
            distribution=run.distribution,
            summary=f"nats per image; reconstruction "
            f"{test['reconstruction_loss']:.2f}, KL {test['kl_loss']:.2f}",
        )


if __name__ == "__main__":
    run_script(main)
