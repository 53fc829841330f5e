"""Class-conditional GAN on labelled images, trained with `model.fit()`.

Trains `kerasbig.models.ConditionalGAN` with DCGAN networks that see the
class (a label embedding joins the latent vector and, as an extra image
channel, the discriminator's input) on whichever Keras backend is active.
Data: scikit-learn's bundled 8x8 digits by default (no download),
`--data tfds:<name>` or a folder with one subfolder per class.

Two scores use a CNN classifier trained on the real training images: the
share of generated images it assigns to the class they were asked for
(class accuracy), and the Fréchet distance between its penultimate
features on generated and on real test images (with the test labels
requested), for the untrained and the trained generator.

    python -m kerasbig.recipes.conditional_gan  # digits, a few minutes
    python -m kerasbig.recipes.conditional_gan --data tfds:mnist --image-size 28
    python -m kerasbig.recipes.conditional_gan --smoke    # seconds

Outputs in --output-dir: samples/ (one row per class), gan.keras
(resumable), generator.keras (EMA weights), log.csv, metrics.json.
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
    loss: str = option("hinge", "GAN loss", ["bce", "hinge"])
    epochs: int = option(150, "passes over the training images", minimum=1)
    batch_size: int = option(64, "images per step", minimum=1)
    learning_rate: float = option(
        2e-4, "Adam learning rate of both networks", greater_than=0
    )
    latent_dim: int = option(32, "size of the latent vector", minimum=1)
    filters: int = option(64, "channels of the widest DCGAN block", minimum=1)
    ema_decay: float = option(
        0.999,
        "decay of the generator weight average (0: off)",
        minimum=0,
        less_than=1,
    )
    samples_every: int = option(
        10, "write a sample grid every N epochs", minimum=1
    )
    classifier_epochs: int = option(
        30,
        "epochs of the classifier that scores the samples",
        minimum=1,
    )
    seed: int = option(0, "seed of weights, noise and data order", minimum=0)
    output_dir: str = option("runs/conditional_gan", "where results go")


SMOKE = {"epochs": 2, "classifier_epochs": 1}

answer_help(Config, __doc__, smoke=SMOKE)  # --help exits here: Keras not loaded

import keras
import numpy as np

from kerasbig.data import load_image_data
from kerasbig.models import ConditionalGAN
from kerasbig.models import dcgan_discriminator
from kerasbig.models import dcgan_generator
from kerasbig.training import fit_generative
from kerasbig.training import image_frechet_distance
from kerasbig.training import run_script
from kerasbig.training import start_run
from kerasbig.training import train_feature_classifier
from kerasbig.training import write_report


def build_gan(config, image_shape, num_classes):
    gan = ConditionalGAN(
        dcgan_generator(
            image_shape,
            latent_dim=config.latent_dim,
            filters=config.filters,
            num_classes=num_classes,
        ),
        dcgan_discriminator(
            image_shape, filters=config.filters, num_classes=num_classes
        ),
        config.latent_dim,
        num_classes,
        seed=config.seed,
    )
    gan.compile(
        g_optimizer=keras.optimizers.Adam(config.learning_rate, 0.5),
        d_optimizer=keras.optimizers.Adam(config.learning_rate, 0.5),
        loss=config.loss,
    )
    return gan


def scores(gan, classifier, features, x_test, y_test, seed):
    """Class accuracy and Fréchet distance of one sample per test label."""
    samples = gan.generate(y_test, seed=seed)
    predicted = np.argmax(classifier.predict(samples, verbose=0), axis=-1)
    return {
        "class_accuracy": float(np.mean(predicted == y_test)),
        "frechet_distance": image_frechet_distance(features, x_test, samples),
    }


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
        x_train, x_test = data.x_train * 2 - 1, data.x_test * 2 - 1
        num_classes = len(data.class_names)
        with run.strategy.scope():
            gan = build_gan(config, x_train.shape[1:], num_classes)
        classifier, features = train_feature_classifier(
            x_train,
            data.y_train,
            num_classes,
            epochs=config.classifier_epochs,
            seed=config.seed,
        )
        test_accuracy = float(
            np.mean(
                np.argmax(classifier.predict(x_test, verbose=0), -1)
                == data.y_test
            )
        )

        def evaluate():
            return scores(
                gan, classifier, features, x_test, data.y_test, config.seed + 1
            )

        untrained = evaluate()
        history, ema, seconds = fit_generative(
            gan,
            x_train,
            data.y_train,
            epochs=config.epochs,
            batch_size=config.batch_size,
            output_dir=output_dir,
            samples_every=config.samples_every,
            seed=config.seed,
            ema_decay=config.ema_decay,
        )
        results = {
            "epochs": history.epoch[-1] + 1,
            "train_seconds": round(seconds, 1),
            "examples": {"train": len(x_train), "test": len(x_test)},
            "classes": data.class_names,
            "classifier_test_accuracy": test_accuracy,
            "final": {k: v[-1] for k, v in history.history.items()},
            "untrained": untrained,
            "trained": evaluate(),
        }
        gan.save(f"{output_dir}/gan.keras")
        if ema:
            ema.apply()
            results["ema"] = evaluate()
        gan.generator.save(f"{output_dir}/generator.keras")
        for name in ("untrained", "trained", "ema"):
            if name in results:
                print(
                    f"{name}: class accuracy "
                    f"{results[name]['class_accuracy']:.3f}, Fréchet distance "
                    f"{results[name]['frechet_distance']:.3f}"
                )
        final = results.get("ema", results["trained"])
        return write_report(
            output_dir,
            recipe="conditional_gan",
            config=config,
            headline=("class_accuracy", final["class_accuracy"]),
            results=results,
            distribution=run.distribution,
            summary=f"{'EMA ' if ema else ''}generator; Fréchet distance "
            f"{final['frechet_distance']:.3f}",
        )


if __name__ == "__main__":
    run_script(main)
