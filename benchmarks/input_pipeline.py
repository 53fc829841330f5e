"""Is a recipe's input pipeline the bottleneck? Epoch time of the
recipe's own pipeline vs the same model fed in-memory tensors.

In one process, on the current backend (KERAS_BACKEND), for each recipe
two copies of the recipe's model (same weights) train in alternation,
one epoch each per round:

- text_classification (SST-2 from $KERASBIG_SHARED_DATA/sst2, by default
  the team's ../shared/data beside the checkout, or --sst2):
  the recipe's `kerasbig.data.text_dataset` (strings batched, then
  `TextVectorization` inside tf.data, shuffled, prefetched) vs token ids
  vectorized once beforehand and given to `fit` as NumPy arrays.
- vgg16_transfer (digits 5-9 at 32x32, --weights none): the recipe's
  `batches` PyDataset (VGG preprocessing per batch) vs preprocessed
  NumPy arrays.

The first round (tracing, warm-up) is dropped; the script prints the
median epoch time of each feed and their ratio (goal <= 1.1x).

    python benchmarks/input_pipeline.py
    python benchmarks/input_pipeline.py --recipes text_classification \\
        --model transformer --rounds 6
"""

import argparse
import importlib
import os
import pathlib
import statistics
import time

import keras

ROOT = pathlib.Path(__file__).resolve().parents[1]


def load_recipe(name):
    return importlib.import_module(f"kerasbig.recipes.{name}")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--recipes",
        nargs="+",
        default=["text_classification", "vgg16_transfer"],
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--model", default="cnn", help="text_classification's --model"
    )
    shared = os.environ.get("KERASBIG_SHARED_DATA") or (
        ROOT.parent / "shared" / "data"
    )
    parser.add_argument("--sst2", default=str(pathlib.Path(shared) / "sst2"))
    return parser.parse_args()


def compiled_twins(build):
    """Two compiled copies of `build()` with the same weights."""
    models = [build(), build()]
    models[1].set_weights(models[0].get_weights())
    for model in models:
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
    return models


def time_epochs(models, feeds, rounds):
    """Alternates one epoch per model per round; median seconds of the
    rounds after the first."""
    seconds = [[], []]
    for _ in range(rounds + 1):
        for i, (model, (x, y, kwargs)) in enumerate(
            zip(models, feeds, strict=True)
        ):
            start = time.perf_counter()
            model.fit(x, y, epochs=1, verbose=0, **kwargs)
            seconds[i].append(time.perf_counter() - start)
    return [statistics.median(s[1:]) for s in seconds]


def text_classification(args):
    recipe = load_recipe("text_classification")
    from kerasbig.data import load_text_data
    from kerasbig.data import text_dataset

    config = recipe.parse_config(
        recipe.Config, ["--data", args.sst2, "--model", args.model]
    )
    data = load_text_data(config.data, seed=config.seed)
    vectorizer = keras.layers.TextVectorization(
        max_tokens=config.vocabulary_size,
        output_sequence_length=config.sequence_length,
    )
    vectorizer.adapt(data.train[0], batch_size=1024)
    texts, labels = data.train
    pipeline = text_dataset(
        texts, labels, vectorizer, config.batch_size, True, config.seed
    )
    tokens = keras.ops.convert_to_numpy(vectorizer(texts))
    models = compiled_twins(
        lambda: recipe.build_model(config, len(data.class_names))
    )
    feeds = [
        (pipeline, None, {"shuffle": False}),  # shuffles itself
        (tokens, labels, {"batch_size": config.batch_size, "shuffle": True}),
    ]
    label = f"text_classification --model {args.model}, {len(labels)} texts"
    return label, time_epochs(models, feeds, args.rounds)


def vgg16_transfer(args):
    recipe = load_recipe("vgg16_transfer")
    from kerasbig.data import load_image_data

    config = recipe.parse_config(
        recipe.Config, ["--weights", "none", "--classes", "5,6,7,8,9"]
    )
    data = load_image_data(config.data, image_size=config.image_size)
    train, _, _, names = recipe.select(data, config)
    images = recipe.to_vgg_inputs(train[0])

    def build():
        base = recipe.build_base(config)
        return recipe.build_model(config, base, len(names))

    models = compiled_twins(build)
    feeds = [
        (recipe.batches(*train, config.batch_size, seed=0), None, {}),
        (images, train[1], {"batch_size": config.batch_size}),
    ]
    label = f"vgg16_transfer --weights none, {len(train[1])} images"
    return label, time_epochs(models, feeds, args.rounds)


def main():
    args = parse_args()
    runs = {
        "text_classification": text_classification,
        "vgg16_transfer": vgg16_transfer,
    }
    print(f"backend {keras.backend.backend()}, rounds {args.rounds}")
    for name in args.recipes:
        label, (pipeline, tensors) = runs[name](args)
        print(
            f"{label}: recipe pipeline {pipeline:.3f} s/epoch, in-memory "
            f"tensors {tensors:.3f} s/epoch, ratio {pipeline / tensors:.3f}"
        )


if __name__ == "__main__":
    main()
