"""Link prediction on a knowledge graph: TransE, DistMult, ComplEx, RotatE,
R-GCN.

Trains a knowledge-graph embedding with plain `model.fit()` on whichever
Keras backend is active: ComplEx, DistMult and R-GCN (an R-GCN encoder
over the training graph with a DistMult decoder, Schlichtkrull et al.
2018) by one-to-N scoring (every entity against the known answers of
each (head, relation) query, with inverse relations for head queries and
label smoothing), TransE and RotatE by negative sampling (RotatE's
self-adversarial weights).
Validation MRR (filtered, both directions) is measured every
--evaluate-every epochs; the best epoch is kept and training stops after
--patience evaluations without a better one. The report gives filtered
MRR and Hits@1/3/10 per split and per direction (ties ranked as
PyKEEN's realistic rank).

Data: by default the Nations graph bundled with kerasbig (no download);
or --data, a folder of train.txt, valid.txt and test.txt with
head<TAB>relation<TAB>tail lines (PyKEEN's layout; FB15k-237, WN18RR and
Kinships come this way).

    python -m kerasbig.recipes.link_prediction           # Nations, ComplEx
    python -m kerasbig.recipes.link_prediction --model rotate --data kinships/
    python -m kerasbig.recipes.link_prediction --smoke   # a few seconds

Outputs in --output-dir: best.keras, model.keras, log.csv (with val_mrr),
tensorboard/, curves.png and metrics.json. A killed run resumes from its
last finished epoch when the same command runs again.
"""

import dataclasses
import time

from kerasbig.training import DistributeConfig
from kerasbig.training import TrainingStopped
from kerasbig.training import answer_help
from kerasbig.training import check_dependencies
from kerasbig.training import option
from kerasbig.training import parse_config

MODELS = ("complex", "distmult", "transe", "rotate", "rgcn")
ONE_TO_N_MODELS = ("complex", "distmult", "rgcn")
# kerasbig.models.LABEL_SMOOTHING_FORMS, spelled out so that --help runs
# before Keras loads (a test holds the two equal).
LABEL_SMOOTHING_FORMS = ("pykeen", "conve")


@dataclasses.dataclass
class Config(DistributeConfig):
    model: str = option("complex", "the embedding model", choices=MODELS)
    data: str = option(
        None,
        "a folder of train.txt, valid.txt, test.txt triples "
        "(head<TAB>relation<TAB>tail); default: the bundled Nations graph",
    )
    embedding_dim: int = option(
        128, "embedding size (complex models: complex entries)", minimum=1
    )
    epochs: int = option(200, "most passes over the training data", minimum=1)
    batch_size: int = option(128, "queries or triples per step", minimum=1)
    learning_rate: float = option(
        None,
        "Adam learning rate; default 0.01, and 0.003 for rgcn (its scores, "
        "products of two layers' outputs, diverge at 0.01)",
        greater_than=0,
    )
    label_smoothing: float = option(
        0.1,
        "one-to-N label smoothing (complex, distmult, rgcn)",
        minimum=0,
        less_than=1,
    )
    label_smoothing_form: str = option(
        "pykeen",
        "form of the label smoothing: pykeen (1 - eps on answers, eps / "
        "(entities - 1) elsewhere) or conve (ConvE's: eps / entities added "
        "everywhere)",
        choices=LABEL_SMOOTHING_FORMS,
    )
    num_negatives: int = option(
        32, "corruptions per triple (transe, rotate)", minimum=1
    )
    num_layers: int = option(2, "R-GCN layers (rgcn)", minimum=1)
    num_bases: int = option(
        None,
        "basis decomposition of the R-GCN kernels (rgcn; default: one "
        "kernel per relation)",
        minimum=1,
    )
    dropout: float = option(
        0.2, "dropout between R-GCN layers (rgcn)", minimum=0, less_than=1
    )
    edge_dropout: float = option(
        0.0,
        "fraction of graph edges each training step leaves out of the "
        "R-GCN encoder (rgcn)",
        minimum=0,
        less_than=1,
    )
    regularization_weight: float = option(
        0.0, "N3 penalty weight on the batch's embeddings", minimum=0
    )
    evaluate_every: int = option(
        1,
        "epochs between validation rankings (raise it for large graphs)",
        minimum=1,
    )
    patience: int = option(
        5,
        "stop after this many validation rankings without a better MRR "
        "(0 = train every epoch); the best epoch's weights are kept",
        minimum=0,
    )
    seed: int = option(0, "seed of weights, negatives and order", minimum=0)
    output_dir: str = option("runs/link_prediction", "where outputs go")


SMOKE = {"epochs": 2, "embedding_dim": 16}

answer_help(Config, __doc__, smoke=SMOKE)  # --help exits here: Keras not loaded

import keras

from kerasbig.callbacks import LinkPredictionMetrics
from kerasbig.data import nations_folder
from kerasbig.graph import load_triples
from kerasbig.metrics import link_prediction_metrics
from kerasbig.models import ComplEx
from kerasbig.models import DistMult
from kerasbig.models import RGCNLinkPredictor
from kerasbig.models import RotatE
from kerasbig.models import TransE
from kerasbig.training import fit_to_folder
from kerasbig.training import run_script
from kerasbig.training import start_run
from kerasbig.training import write_report


def build_model(config, graph):
    """The model with its training objective: one-to-N for the bilinear
    models and R-GCN, negative sampling for the distance ones."""
    common = {
        "embedding_dim": config.embedding_dim,
        "seed": config.seed,
        "regularization": "n3" if config.regularization_weight else None,
        "regularization_weight": config.regularization_weight,
    }
    if config.model in ONE_TO_N_MODELS:
        one_to_n = {
            "objective": "one_to_n",
            "inverse_relations": True,
            "label_smoothing": config.label_smoothing,
            "label_smoothing_form": config.label_smoothing_form,
            **common,
        }
        if config.model == "rgcn":
            return RGCNLinkPredictor(
                graph.num_entities,
                graph.num_relations,
                graph.train,
                num_layers=config.num_layers,
                num_bases=config.num_bases,
                dropout=config.dropout,
                edge_dropout=config.edge_dropout,
                **one_to_n,
            )
        model_class = ComplEx if config.model == "complex" else DistMult
        return model_class(graph.num_entities, graph.num_relations, **one_to_n)
    if config.model == "rotate":
        return RotatE(
            graph.num_entities,
            graph.num_relations,
            num_negatives=config.num_negatives,
            adversarial_temperature=1.0,
            margin=6.0,
            **common,
        )
    return TransE(
        graph.num_entities,
        graph.num_relations,
        num_negatives=config.num_negatives,
        loss="margin",
        entity_constraint=keras.constraints.UnitNorm(axis=1),
        **common,
    )


def learning_rate(config):
    if config.learning_rate is not None:
        return config.learning_rate
    return 0.003 if config.model == "rgcn" else 0.01


def dependencies(config):
    """The optional modules this run needs (`check_dependencies`)."""
    needs = {"matplotlib": "training curves"}
    return needs


def main(argv=None):
    config = parse_config(Config, argv, __doc__, smoke=SMOKE)
    check_dependencies(dependencies(config))
    # One replica: the multi-replica path of the embeddings' sampling
    # and one-to-N loss is not tested yet.
    with start_run(config, splits_batches=False) as run:
        output_dir = run.output_dir
        keras.utils.set_random_seed(config.seed)
        graph = load_triples(config.data or nations_folder())
        with run.strategy.scope():
            model = build_model(config, graph)
            model.compile(
                optimizer=keras.optimizers.Adam(learning_rate(config))
            )
        if model.objective == "one_to_n":
            # Answer lists, dense a batch at a time: dense labels of
            # FB15k-237 would take 8.7 GB.
            train_data = graph.one_to_n_data(
                inverse_relations=True, sparse_labels=True
            )
        else:
            train_data = (graph.train, None)
        ranking = LinkPredictionMetrics(
            graph, "valid", every=config.evaluate_every
        )
        callbacks = [ranking]
        if config.patience:
            # fit_to_folder keeps the best epoch's weights; this only stops.
            callbacks.append(
                keras.callbacks.EarlyStopping(
                    # Counts rankings: epochs without one log no val_mrr.
                    monitor="val_mrr",
                    mode="max",
                    patience=config.patience,
                )
            )
        start = time.perf_counter()
        history, stopped = fit_to_folder(
            model,
            train_data,
            None,
            epochs=config.epochs,
            output_dir=output_dir,
            batch_size=config.batch_size,
            monitor="val_mrr",
            callbacks=callbacks,
        )
        train_seconds = time.perf_counter() - start
        if stopped:
            raise TrainingStopped(stopped)
        rankings = {
            split: link_prediction_metrics(model, graph, split)
            for split in ("valid", "test")
        }
        test = rankings["test"]["both"]
        results = {
            "epochs": len(history.get("epoch", [])),
            "train_seconds": round(train_seconds, 2),
            "examples": {
                "train": len(graph.train),
                "validation": len(graph.valid),
                "test": len(graph.test),
            },
            "entities": graph.num_entities,
            "relations": graph.num_relations,
            "test_mrr": test["mrr"],
            "test_hits@10": test["hits@10"],
            "ranking": rankings,
        }
        return write_report(
            output_dir,
            recipe="link_prediction",
            config=config,
            headline=("test_mrr", test["mrr"]),
            results=results,
            distribution=run.distribution,
            summary=f"{config.model}, Hits@10 {test['hits@10']:.3f}, filtered",
        )


if __name__ == "__main__":
    run_script(main)
