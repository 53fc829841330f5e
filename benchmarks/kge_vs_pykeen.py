"""Knowledge-graph embeddings side by side with PyKEEN: the same model,
dimensions, loss, training regime and epochs, in one process; prints
each side's filtered test MRR and Hits@10 and its epoch time, and the
ratios (goal: MRR within 0.01, epoch time <= 1.0x).

Settings (both sides): ComplEx, --dim complex entries, one-to-N scoring
(PyKEEN's LCWA training loop) over (head, relation) queries with inverse
relations for head queries, binary cross-entropy with logits, label
smoothing 0.1, Adam --lr, batch --batch, --epochs epochs, no
regularizer (PyKEEN's ComplEx defaults to an L2 one; it is turned off),
entity and relation tables initialised from a normal with standard
deviation --init-std (PyKEEN's default is 1, which at 128 dimensions
leaves both sides near MRR 0.06 after 10 epochs; kerasbig's is Glorot).
Test ranks are filtered by every known triple, both directions, realistic ties.
kerasbig trains with `fit()` on the chosen Keras backend; PyKEEN with
its own torch loop. Epoch time: total training time over the epochs
(kerasbig's includes its tracing and compilation; its median epoch
after the first is printed too).

Each side runs --seeds times (seeds 0, 1, ...): one seed's MRR moves by
about 0.01, so the means are compared.

    python benchmarks/kge_vs_pykeen.py --data kinships/ --backend torch
"""

import argparse
import os
import statistics
import time

from _backend_flag import add_backend_flag
from _backend_flag import use_backend


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data",
        required=True,
        help="a folder of train.txt, valid.txt, test.txt triples "
        "(PyKEEN's layout; Kinships for the issue's comparison)",
    )
    add_backend_flag(parser, default="torch")
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--init-std", type=float, default=0.1)
    parser.add_argument(
        "--seeds", type=int, default=3, help="runs per side, seeds 0, 1, ..."
    )
    return parser.parse_args()


def run_kerasbig(args, seed):
    import keras

    from kerasbig.data import ArrayBatches
    from kerasbig.graph import load_triples
    from kerasbig.metrics import link_prediction_metrics
    from kerasbig.models import ComplEx

    class NormalComplEx(ComplEx):
        def entity_initializer(self):
            return keras.initializers.RandomNormal(
                0.0, args.init_std, self.table_seed(0)
            )

        def relation_initializer(self):
            return keras.initializers.RandomNormal(
                0.0, args.init_std, self.table_seed(1)
            )

    class EpochTimes(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self.started)

    graph = load_triples(args.data)
    keras.utils.set_random_seed(seed)
    model = NormalComplEx(
        graph.num_entities,
        graph.num_relations,
        embedding_dim=args.dim,
        objective="one_to_n",
        inverse_relations=True,
        label_smoothing=0.1,
        seed=seed,
    )
    model.compile(keras.optimizers.Adam(args.lr))
    x, y = graph.one_to_n_data(inverse_relations=True)
    times = EpochTimes()
    started = time.perf_counter()
    # ArrayBatches, as fit_to_folder feeds arrays: fit(shuffle=True) on
    # TensorFlow repeats one order every epoch once the seed is set.
    model.fit(
        ArrayBatches(x, y, args.batch, seed=seed),
        epochs=args.epochs,
        shuffle=False,
        callbacks=[times],
        verbose=0,
    )
    total = time.perf_counter() - started
    test = link_prediction_metrics(model, graph, "test")["both"]
    return {
        "mrr": test["mrr"],
        "hits@10": test["hits@10"],
        "epoch_seconds": total / args.epochs,
        "median_later_epoch": statistics.median(times.seconds[1:]),
        "queries": len(x),
    }


def run_pykeen(args, seed):
    import functools

    import torch
    from pykeen.pipeline import pipeline
    from pykeen.triples import TriplesFactory

    def factory(split, training=None):
        path = os.path.join(args.data, f"{split}.txt")
        if training is None:
            return TriplesFactory.from_path(path, create_inverse_triples=True)
        return TriplesFactory.from_path(
            path,
            entity_to_id=training.entity_to_id,
            relation_to_id=training.relation_to_id,
            create_inverse_triples=True,
        )

    initializer = functools.partial(torch.nn.init.normal_, std=args.init_std)
    training = factory("train")
    validation, testing = factory("valid", training), factory("test", training)
    result = pipeline(
        training=training,
        validation=validation,
        testing=testing,
        model="ComplEx",
        model_kwargs={
            "embedding_dim": args.dim,
            "regularizer": None,
            "entity_initializer": initializer,
            "relation_initializer": initializer,
        },
        training_loop="lcwa",
        loss="bcewithlogits",
        optimizer="adam",
        optimizer_kwargs={"lr": args.lr},
        training_kwargs={
            "num_epochs": args.epochs,
            "batch_size": args.batch,
            "label_smoothing": 0.1,
            "use_tqdm": False,
        },
        evaluation_kwargs={"use_tqdm": False},
        filter_validation_when_testing=True,
        random_seed=seed,
        device="cpu",
    )
    metrics = result.metric_results
    return {
        "mrr": metrics.get_metric("both.realistic.inverse_harmonic_mean_rank"),
        "hits@10": metrics.get_metric("both.realistic.hits_at_10"),
        "epoch_seconds": result.train_seconds / args.epochs,
        "regularizer": type(result.model.regularizer).__name__
        if getattr(result.model, "regularizer", None) is not None
        else None,
    }


def main():
    args = parse_args()
    use_backend(args)
    import warnings

    warnings.filterwarnings("ignore")
    import torch

    # One thread count for both sides (torch's pool serves PyKEEN and,
    # on the torch backend, Keras).
    print(f"backend {args.backend}, torch threads {torch.get_num_threads()}")
    runs = {"kerasbig": [], "pykeen": []}
    for seed in range(args.seeds):
        runs["kerasbig"].append(run_kerasbig(args, seed))
        runs["pykeen"].append(run_pykeen(args, seed))
        for name, side in runs.items():
            print(
                f"seed {seed} {name:9s} test MRR {side[-1]['mrr']:.4f}  "
                f"Hits@10 {side[-1]['hits@10']:.4f}  epoch "
                f"{side[-1]['epoch_seconds']:.3f} s",
                flush=True,
            )
    print(
        f"ComplEx dim {args.dim}, {args.epochs} epochs, batch {args.batch}, "
        f"Adam {args.lr}, one-to-N ({runs['kerasbig'][0]['queries']} queries "
        f"per epoch), label smoothing 0.1, init std {args.init_std}; PyKEEN "
        f"regularizer: {runs['pykeen'][0]['regularizer']}"
    )
    mean = {
        name: {
            key: statistics.mean(run[key] for run in side)
            for key in ("mrr", "hits@10", "epoch_seconds")
        }
        for name, side in runs.items()
    }
    for name, side in mean.items():
        print(
            f"mean of {args.seeds}: {name:9s} test MRR {side['mrr']:.4f}  "
            f"Hits@10 {side['hits@10']:.4f}  "
            f"epoch {side['epoch_seconds']:.3f} s"
        )
    later = statistics.median(r["median_later_epoch"] for r in runs["kerasbig"])
    print(f"kerasbig median epoch after the first: {later:.3f} s")
    ours, theirs = mean["kerasbig"], mean["pykeen"]
    print(
        f"MRR difference (kerasbig - pykeen): "
        f"{ours['mrr'] - theirs['mrr']:+.4f}; epoch time ratio "
        f"(kerasbig / pykeen): "
        f"{ours['epoch_seconds'] / theirs['epoch_seconds']:.2f}x"
    )


if __name__ == "__main__":
    main()
