"""Keras callbacks for generative training: sample grids, an exponential
moving average of generator weights, and a NaN guard that keeps the last
good checkpoint; link-prediction and entity metrics in the epoch logs.
(The pruning callback lives in `kerasbig.optimize`.)"""

import contextlib
import math
import os
import pathlib

import keras
import numpy as np
from keras import ops

from kerasbig._optional import import_optional
from kerasbig.metrics import entity_scores
from kerasbig.metrics import link_prediction_metrics

__all__ = [
    "EntityMetrics",
    "GeneratorEMA",
    "SampleGrid",
    "StopOnNaN",
    "save_image_grid",
]


def save_image_grid(images, path, columns=None, value_range=(-1.0, 1.0)):
    """Writes images side by side as one PNG.

    Args:
        images: array `(n, height, width, channels)` with 1 or 3 channels
            (or `(n, height, width)`).
        path: file to write (`.png`); parent folders are created.
        columns: images per row; defaults to `ceil(sqrt(n))`.
        value_range: `(low, high)` pixel range of `images`, mapped to
            0-255 (values outside are clipped).

    Returns:
        The path written, as a `pathlib.Path`.

    Example:

        >>> import numpy as np, tempfile, os
        >>> from kerasbig.callbacks import save_image_grid
        >>> images = np.random.uniform(-1, 1, (10, 8, 8, 1))
        >>> path = os.path.join(tempfile.mkdtemp(), "grid.png")
        >>> path = save_image_grid(images, path)
        >>> path.stat().st_size > 0
        True
    """
    image_module = import_optional("PIL.Image", "Writing PNG image grids")
    images = np.asarray(images, dtype="float32")
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or not len(images):
        raise ValueError(
            "save_image_grid: `images` must have shape (n, height, width, "
            f"channels) with n >= 1 and 1 or 3 channels. Received: shape "
            f"{images.shape}"
        )
    low, high = value_range
    scaled = np.clip((images - low) / (high - low), 0.0, 1.0)
    pixels = np.round(scaled * 255).astype("uint8")
    n, height, width, channels = pixels.shape
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    grid = np.zeros(
        (rows * (height + 1) + 1, columns * (width + 1) + 1, channels), "uint8"
    )
    for index, image in enumerate(pixels):
        top = 1 + (index // columns) * (height + 1)
        left = 1 + (index % columns) * (width + 1)
        grid[top : top + height, left : left + width] = image
    # Small images (8x8 digits) are enlarged so that the grid is readable.
    zoom = max(1, 32 // max(height, width))
    grid = grid.repeat(zoom, axis=0).repeat(zoom, axis=1)
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image_module.fromarray(grid[..., 0] if channels == 1 else grid).save(path)
    return path


def _sync_jax_state(model):
    # On JAX, fit keeps the newest weights outside the variables between
    # epochs; read them into the variables first.
    if hasattr(model, "jax_state_sync"):
        model.jax_state_sync()


class GeneratorEMA(keras.callbacks.Callback):
    """Exponential moving average of a network's weights during `fit()`.

    Keeps `average = decay * average + (1 - decay) * weights` after every
    train batch for the trainable weights of `model.<network>` (the GAN's
    generator by default). Samples from averaged generator weights are
    usually smoother than from the last weights (Yazici et al. 2019).
    Training itself always uses the raw weights; read the average with
    `averaged()` (a context manager that swaps it in) or write it into
    the network with `apply()`. The average restarts from the current
    weights when a new `fit()` begins.

    Args:
        decay: weight of the past average, in [0, 1).
        network: attribute of the model that holds the network; `None`
            averages the whole model.

    Example:

        >>> import keras, numpy as np
        >>> from kerasbig.callbacks import GeneratorEMA
        >>> from kerasbig.models import GAN
        >>> def dense(units):
        ...     return keras.Sequential([keras.Input((2,)),
        ...                              keras.layers.Dense(units)])
        >>> gan = GAN(dense(2), dense(1), latent_dim=2)
        >>> gan.compile()
        >>> ema = GeneratorEMA(decay=0.9)
        >>> history = gan.fit(np.ones((32, 2), "float32"), epochs=1,
        ...                   batch_size=8, callbacks=[ema], verbose=0)
        >>> with ema.averaged():
        ...     samples = gan.generate(4, seed=0)
        >>> samples.shape
        (4, 2)

    References:
        Yazici et al., "The Unusual Effectiveness of Averaging in GAN
        Training", 2019, https://arxiv.org/abs/1806.04498.
    """

    def __init__(self, decay=0.999, network="generator"):
        super().__init__()
        if not isinstance(decay, (int, float)) or not 0 <= decay < 1:
            raise ValueError(
                "GeneratorEMA: `decay` must be in [0, 1). Received: "
                f"decay={decay!r}"
            )
        self.decay = decay
        self.network = network
        self.average = None

    def _variables(self):
        target = self.model
        if self.network is not None:
            if not hasattr(target, self.network):
                raise ValueError(
                    f"GeneratorEMA: the model has no attribute "
                    f"`{self.network}`. Pass network=None to average the "
                    "whole model, or the attribute that holds the network."
                )
            target = getattr(target, self.network)
        return target.trainable_variables

    def on_train_begin(self, logs=None):
        _sync_jax_state(self.model)
        self.average = [
            ops.copy(ops.convert_to_tensor(v)) for v in self._variables()
        ]

    def on_train_batch_end(self, batch, logs=None):
        _sync_jax_state(self.model)
        d = self.decay
        self.average = [
            d * average + (1.0 - d) * ops.convert_to_tensor(v)
            for average, v in zip(self.average, self._variables(), strict=True)
        ]

    def _check_ready(self):
        if self.average is None:
            raise RuntimeError(
                "GeneratorEMA: no average yet; pass the callback to "
                "`fit(callbacks=[...])` first."
            )

    @contextlib.contextmanager
    def averaged(self):
        """Context in which the network holds the averaged weights; the
        training weights come back on exit."""
        self._check_ready()
        _sync_jax_state(self.model)
        variables = self._variables()
        saved = [ops.copy(ops.convert_to_tensor(v)) for v in variables]
        try:
            self.apply()
            yield
        finally:
            for variable, value in zip(variables, saved, strict=True):
                variable.assign(value)

    def apply(self):
        """Writes the averaged weights into the network."""
        self._check_ready()
        for variable, value in zip(
            self._variables(), self.average, strict=True
        ):
            # A copy: JAX's compiled steps donate (free) variable buffers,
            # which must not take the average with them.
            variable.assign(ops.copy(value))


class SampleGrid(keras.callbacks.Callback):
    """Writes a PNG grid of generated samples at the end of epochs.

    Works with `GAN`, `WGANGP` (via `generate(n)`), `ConditionalGAN`
    (`generate(labels)`: one row per class) and `VAE` (`sample(n)`). The
    same seed is used every epoch, so the grids show the same latent
    points as training goes on. Files are
    `<directory>/samples_epoch_<NNN>.png`.

    Args:
        directory: folder for the PNG files (created if needed).
        num_samples: samples per grid.
        seed: seed of the latent points.
        every: write a grid every `every` epochs.
        value_range: pixel range of the model's outputs (`(-1, 1)` for a
            tanh generator, `(0, 1)` for a sigmoid decoder).
        ema: optional `GeneratorEMA`: sample from the averaged weights.

    Example:

        >>> import keras, numpy as np, tempfile, os
        >>> from kerasbig.callbacks import SampleGrid
        >>> from kerasbig.models import GAN
        >>> from kerasbig.models import dcgan_discriminator, dcgan_generator
        >>> gan = GAN(dcgan_generator((8, 8, 1), latent_dim=4, filters=4),
        ...           dcgan_discriminator((8, 8, 1), filters=4), latent_dim=4)
        >>> gan.compile()
        >>> folder = tempfile.mkdtemp()
        >>> history = gan.fit(np.zeros((16, 8, 8, 1), "float32"), epochs=2,
        ...     callbacks=[SampleGrid(folder, num_samples=9)], verbose=0)
        >>> sorted(os.listdir(folder))
        ['samples_epoch_001.png', 'samples_epoch_002.png']
    """

    def __init__(
        self,
        directory,
        num_samples=64,
        seed=0,
        every=1,
        value_range=(-1.0, 1.0),
        ema=None,
    ):
        super().__init__()
        if not isinstance(num_samples, int) or num_samples < 1:
            raise ValueError(
                "SampleGrid: `num_samples` must be an int >= 1. Received: "
                f"num_samples={num_samples!r}"
            )
        if not isinstance(every, int) or every < 1:
            raise ValueError(
                "SampleGrid: `every` must be an int >= 1. Received: "
                f"every={every!r}"
            )
        self.directory = pathlib.Path(directory)
        self.num_samples = num_samples
        self.seed = seed
        self.every = every
        self.value_range = value_range
        self.ema = ema

    def samples(self):
        """The samples of one grid (NumPy) and the number of columns."""
        _sync_jax_state(self.model)
        with self.ema.averaged() if self.ema else contextlib.nullcontext():
            return self._samples()

    def _samples(self):
        model = self.model
        num_classes = getattr(model, "num_classes", None)
        if num_classes:
            per_class = max(1, self.num_samples // num_classes)
            labels = np.repeat(np.arange(num_classes), per_class)
            return model.generate(labels, seed=self.seed), per_class
        if hasattr(model, "generate"):
            return model.generate(self.num_samples, seed=self.seed), None
        if hasattr(model, "sample"):
            return model.sample(self.num_samples, seed=self.seed), None
        raise ValueError(
            "SampleGrid: the model needs a `generate(n, seed)` or "
            f"`sample(n, seed)` method. Received: {type(model).__name__}"
        )

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        images, columns = self.samples()
        save_image_grid(
            images,
            self.directory / f"samples_epoch_{epoch + 1:03d}.png",
            columns=columns,
            value_range=self.value_range,
        )


class StopOnNaN(keras.callbacks.Callback):
    """Stops training at the first non-finite loss and keeps the last good
    checkpoint.

    After every batch it checks each logged value (losses, penalties); on
    NaN or infinity it stops training, prints which value failed where,
    and sets `stopped_reason`. With `filepath`, it saves the model at the
    end of each epoch that stayed finite (weights included), writing to a
    temporary file first and renaming it, so an interrupted save never
    replaces a good checkpoint. Epochs that hit a NaN are not saved, even
    by this callback's end-of-epoch hook, which Keras still calls.

    Args:
        filepath: optional `.keras` path of the last good checkpoint.

    Example:

        >>> import keras, numpy as np
        >>> from kerasbig.callbacks import StopOnNaN
        >>> model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
        >>> model.compile("sgd", "mse")
        >>> guard = StopOnNaN()
        >>> x = np.array([[1.0], [np.nan]], "float32")
        >>> history = model.fit(x, x, batch_size=1, epochs=3, shuffle=False,
        ...     verbose=0, callbacks=[guard])  # doctest: +ELLIPSIS
        StopOnNaN: loss is nan at epoch 1, batch 2; training stopped...
        >>> len(history.history["loss"])
        1
    """

    def __init__(self, filepath=None):
        super().__init__()
        if filepath is not None and not str(filepath).endswith(".keras"):
            raise ValueError(
                "StopOnNaN: `filepath` must end in `.keras`. Received: "
                f"filepath={filepath!r}"
            )
        self.filepath = None if filepath is None else pathlib.Path(filepath)
        self.stopped_reason = None
        self.last_good_epoch = None
        self._epoch = 0

    def on_train_begin(self, logs=None):
        self.stopped_reason = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        for name, value in (logs or {}).items():
            try:
                value = float(ops.convert_to_numpy(value))
            except (TypeError, ValueError):
                continue
            if not math.isfinite(value):
                self._stop(name, value, batch)
                return

    def _stop(self, name, value, batch):
        self.model.stop_training = True
        if self.filepath and self.last_good_epoch is not None:
            kept = (
                f"The last good checkpoint is {self.filepath} (end of epoch "
                f"{self.last_good_epoch + 1})."
            )
        elif self.filepath:
            kept = (
                "No epoch finished cleanly; nothing was saved to "
                f"{self.filepath}."
            )
        else:
            kept = "Pass `filepath=` to keep the last good checkpoint."
        self.stopped_reason = (
            f"StopOnNaN: {name} is {value} at epoch {self._epoch + 1}, batch "
            f"{batch + 1}; training stopped. {kept} Lower the learning "
            "rate, check the data for NaN, or add a gradient penalty."
        )
        print(self.stopped_reason)

    def on_epoch_end(self, epoch, logs=None):
        if self.stopped_reason or not self.filepath:
            return
        _sync_jax_state(self.model)
        if not all(
            np.isfinite(ops.convert_to_numpy(v)).all()
            for v in self.model.weights
        ):
            return
        self.filepath.parent.mkdir(parents=True, exist_ok=True)
        partial = self.filepath.with_name(
            f".{self.filepath.name}.partial.keras"
        )
        self.model.save(partial)
        os.replace(partial, self.filepath)
        self.last_good_epoch = epoch


class LinkPredictionMetrics(keras.callbacks.Callback):
    """Adds filtered link-prediction metrics of a split to the epoch logs:
    `<prefix>mrr` and `<prefix>hits@k` (both directions;
    `kerasbig.metrics.link_prediction_metrics`), so that `EarlyStopping`,
    `ModelCheckpoint` and `CSVLogger` placed after it can use them.

    Args:
        graph: a `kerasbig.graph.KnowledgeGraph`.
        split: the split to rank. Defaults to `"valid"`.
        every: evaluate every `every` epochs (and after the last). Epochs
            in between log nothing for these names.
        batch_size: triples scored at once.
        hits_at: the `k`s of Hits@k.
        prefix: name prefix. Defaults to `"val_"`.

    Example:

        >>> import keras, numpy as np
        >>> from kerasbig.callbacks import LinkPredictionMetrics
        >>> from kerasbig.graph import KnowledgeGraph
        >>> from kerasbig.models import DistMult
        >>> triples = np.array([[0, 0, 1], [1, 0, 2], [2, 0, 0]], "int32")
        >>> graph = KnowledgeGraph(["a", "b", "c"], ["r"], triples,
        ...                        triples[:1], triples[1:])
        >>> model = DistMult(3, 1, embedding_dim=4)
        >>> model.compile(keras.optimizers.Adam(0.01))
        >>> history = model.fit(triples, epochs=1, verbose=0,
        ...                     callbacks=[LinkPredictionMetrics(graph)])
        >>> sorted(history.history)
        ['loss', 'val_hits@1', 'val_hits@10', 'val_hits@3', 'val_mrr']
    """

    def __init__(
        self,
        graph,
        split="valid",
        every=1,
        batch_size=256,
        hits_at=(1, 3, 10),
        prefix="val_",
    ):
        super().__init__()
        if not isinstance(every, int) or every < 1:
            raise ValueError(
                "LinkPredictionMetrics: `every` must be a positive int. "
                f"Received: every={every!r}"
            )
        self.graph = graph
        self.split = split
        self.every = every
        self.batch_size = batch_size
        self.hits_at = hits_at
        self.prefix = prefix
        self._epochs = None

    def on_train_begin(self, logs=None):
        self._epochs = self.params.get("epochs")

    def on_epoch_end(self, epoch, logs=None):
        last = self._epochs is not None and epoch + 1 == self._epochs
        if logs is None or not ((epoch + 1) % self.every == 0 or last):
            return
        _sync_jax_state(self.model)
        both = link_prediction_metrics(
            self.model,
            self.graph,
            self.split,
            batch_size=self.batch_size,
            hits_at=self.hits_at,
        )["both"]
        for name, value in both.items():
            logs[self.prefix + name] = value


class EntityMetrics(keras.callbacks.Callback):
    """Adds entity-level precision, recall and F1 of a tagger on held-out
    sentences to the epoch logs: `<prefix>entity_precision`,
    `<prefix>entity_recall` and `<prefix>entity_f1` (micro averages of
    `kerasbig.metrics.entity_scores`, seqeval's), so that
    `ModelCheckpoint`, `EarlyStopping` or `fit_to_folder(monitor=
    "val_entity_f1")` keep the best epoch.

    Args:
        x: the model's inputs for the sentences.
        tags: `(sentences, time)` int true tag ids.
        tag_names: the name of each tag id (`"O"`, `"B-PER"`, ...).
        lengths: optional `(sentences,)` token counts (positions past a
            sentence's length are padding); defaults to the full width.
        mode: `"conlleval"` (default) or `"strict"`.
        scheme: `"IOB2"` (default) or `"IOBES"`, for the strict mode.
        batch_size: sentences predicted at once.
        prefix: name prefix. Defaults to `"val_"`.

    Example:

        >>> import keras, numpy as np
        >>> from kerasbig.callbacks import EntityMetrics
        >>> tokens = np.array([[1, 2, 0], [2, 1, 1]])
        >>> tags = np.array([[1, 2, 0], [0, 1, 0]])
        >>> model = keras.Sequential([keras.Input((3,), dtype="int32"),
        ...                           keras.layers.Embedding(3, 4),
        ...                           keras.layers.Dense(3)])
        >>> model.compile("adam", keras.losses.SparseCategoricalCrossentropy(
        ...     from_logits=True))
        >>> tagger = keras.Model(model.inputs,
        ...                      keras.ops.argmax(model.outputs[0], -1))
        >>> metrics = EntityMetrics(tokens, tags, ["O", "B-PER", "I-PER"],
        ...                         lengths=[2, 3])
        >>> metrics.set_model(tagger)
        >>> logs = {}
        >>> metrics.on_epoch_end(0, logs)
        >>> sorted(logs)
        ['val_entity_f1', 'val_entity_precision', 'val_entity_recall']
    """

    def __init__(
        self,
        x,
        tags,
        tag_names,
        lengths=None,
        mode="conlleval",
        scheme="IOB2",
        batch_size=32,
        prefix="val_",
    ):
        super().__init__()
        self.x = x
        self.tags = np.asarray(tags)
        self.tag_names = list(tag_names)
        if lengths is None:
            lengths = np.full(len(self.tags), self.tags.shape[1])
        self.lengths = np.asarray(lengths)
        if len(self.lengths) != len(self.tags):
            raise ValueError(
                "EntityMetrics: one length per sentence. Received: "
                f"{len(self.lengths)} lengths, {len(self.tags)} sentences"
            )
        self.mode, self.scheme = mode, scheme
        self.batch_size = batch_size
        self.prefix = prefix

    def _names(self, ids):
        return [
            [self.tag_names[int(t)] for t in row[:length]]
            for row, length in zip(ids, self.lengths, strict=True)
        ]

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        _sync_jax_state(self.model)
        predicted = self.model.predict(
            self.x, batch_size=self.batch_size, verbose=0
        )
        predicted = np.asarray(ops.convert_to_numpy(predicted))
        micro = entity_scores(
            self._names(self.tags),
            self._names(predicted),
            self.mode,
            self.scheme,
        )["micro"]
        for name in ("precision", "recall", "f1"):
            logs[f"{self.prefix}entity_{name}"] = micro[name]
