"""Small models the distributed check scripts train on one device and
under a strategy (imported by those scripts, not a test)."""


def data():
    """64 samples of 4 features and a binary label."""
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.random((64, 4)).astype("float32")
    return x, (x.sum(1) > 2).astype("int32")


def dense_model():
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(2),
        ]
    )
    model.compile(
        keras.optimizers.SGD(0.1),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def gan(kind):
    import keras

    from kerasbig.models import GAN
    from kerasbig.models import WGANGP

    keras.utils.set_random_seed(0)
    generator = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(2),
        ]
    )
    critic = keras.Sequential(
        [
            keras.Input((2,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(1),
        ]
    )
    model = {"gan": GAN, "wgan_gp": WGANGP}[kind](
        generator, critic, latent_dim=4, seed=1
    )
    model.compile(
        g_optimizer=keras.optimizers.SGD(0.05),
        d_optimizer=keras.optimizers.SGD(0.05),
    )
    return model


def vae():
    import keras

    from kerasbig.models import VAE

    keras.utils.set_random_seed(0)
    encoder = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(8), keras.layers.Dense(4)]
    )
    decoder = keras.Sequential(
        [keras.Input((2,)), keras.layers.Dense(6, activation="sigmoid")]
    )
    model = VAE(encoder, decoder, seed=1)
    model.compile(optimizer=keras.optimizers.SGD(0.05))
    return model
