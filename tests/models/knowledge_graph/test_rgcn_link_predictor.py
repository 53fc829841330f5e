"""RGCNLinkPredictor: scores equal PyG's RGCNConv encoder with a DistMult
decoder on copied weights, fit() learns Nations on every backend, edge
dropout only in training, saving keeps the graph, bad input named."""

import keras
import numpy as np
import pytest
from keras import ops
from references import copy_rgcn_weights
from references import reference
from references import requires

from kerasbig.graph import load_triples
from kerasbig.metrics import link_prediction_metrics
from kerasbig.models import RGCNLinkPredictor

torch = reference("torch")
pyg_nn = reference("torch_geometric.nn")

ENTITIES, RELATIONS = 9, 3
RNG = np.random.default_rng(0)
GRAPH = np.stack(
    [
        RNG.integers(0, ENTITIES - 1, 20),  # entity 8 stays isolated
        RNG.integers(0, RELATIONS, 20),
        RNG.integers(0, ENTITIES - 1, 20),
    ],
    axis=1,
).astype("int32")
QUERIES = np.array([[0, 1, 2], [8, 0, 3], [5, 2, 8]], "int32")


@pytest.mark.backend_agnostic
@requires(pyg_nn, "torch-geometric")
@requires(torch, "torch")
@pytest.mark.parametrize("options", [{}, {"num_bases": 2}, {"num_blocks": 2}])
def test_scores_equal_pyg_encoder_with_distmult(options):
    model = RGCNLinkPredictor(
        ENTITIES, RELATIONS, GRAPH, embedding_dim=6, seed=1, **options
    )
    torch.manual_seed(0)
    convs = [pyg_nn.RGCNConv(6, 6, 2 * RELATIONS, **options) for _ in range(2)]
    for ours, theirs in zip(model.encoder_layers, convs, strict=True):
        copy_rgcn_weights(ours, theirs)
    heads, relations, tails = (torch.from_numpy(c) for c in GRAPH.T.copy())
    # Each triple is an edge and its inverse: relation r + RELATIONS.
    edge_index = torch.stack(
        [torch.cat([heads, tails]), torch.cat([tails, heads])]
    ).long()
    edge_type = torch.cat([relations, relations + RELATIONS]).long()
    x = torch.from_numpy(ops.convert_to_numpy(model.entity_embeddings))
    with torch.no_grad():
        x = convs[0](x, edge_index, edge_type).relu()
        x = convs[1](x, edge_index, edge_type).numpy()
    relation_table = ops.convert_to_numpy(model.relation_embeddings)
    h, r, t = x[QUERIES[:, 0]], relation_table[QUERIES[:, 1]], x[QUERIES[:, 2]]
    expected = np.sum(h * r * t, axis=-1)
    np.testing.assert_allclose(
        ops.convert_to_numpy(model(QUERIES)), expected, rtol=1e-5, atol=1e-5
    )
    # The isolated entity is its root term alone.
    np.testing.assert_allclose(
        ops.convert_to_numpy(model.entity_representations())[8], x[8], atol=1e-5
    )


def test_dropouts_only_in_training():
    # Feature dropout off: only the edge drops can make training differ.
    model = RGCNLinkPredictor(
        ENTITIES,
        RELATIONS,
        GRAPH,
        embedding_dim=6,
        dropout=0.0,
        edge_dropout=0.5,
        seed=2,
    )
    inference = ops.convert_to_numpy(model.entity_representations())
    again = ops.convert_to_numpy(model.entity_representations(training=False))
    training = ops.convert_to_numpy(model.entity_representations(training=True))
    other = ops.convert_to_numpy(model.entity_representations(training=True))
    np.testing.assert_array_equal(inference, again)
    assert not np.allclose(training, inference)
    assert not np.allclose(training, other)  # new edges each step
    plain = RGCNLinkPredictor(
        ENTITIES, RELATIONS, GRAPH, embedding_dim=6, dropout=0.0, seed=2
    )
    np.testing.assert_allclose(
        ops.convert_to_numpy(plain.entity_representations(training=True)),
        ops.convert_to_numpy(plain.entity_representations()),
        atol=1e-6,
    )


def test_fit_learns_nations(shared_data):
    graph = load_triples(shared_data / "kg" / "nations")
    keras.utils.set_random_seed(0)
    model = RGCNLinkPredictor(
        graph.num_entities,
        graph.num_relations,
        graph.train,
        embedding_dim=32,
        num_bases=8,
        edge_dropout=0.2,
        objective="one_to_n",
        inverse_relations=True,
        label_smoothing=0.1,
        seed=0,
    )
    before = link_prediction_metrics(model, graph)["both"]
    model.compile(keras.optimizers.Adam(0.003))
    x, y = graph.one_to_n_data(inverse_relations=True)
    losses = model.fit(x, y, epochs=10, batch_size=64, verbose=0).history[
        "loss"
    ]
    assert losses[-1] < losses[0], losses
    after = link_prediction_metrics(model, graph)["both"]
    # Untrained: MRR about 0.35 on Nations' 14 entities; trained 0.6+.
    assert after["mrr"] > before["mrr"] + 0.15, (before, after)


def test_saved_model_keeps_graph_and_scores(tmp_path):
    model = RGCNLinkPredictor(
        ENTITIES, RELATIONS, GRAPH, embedding_dim=6, num_bases=2, seed=3
    )
    model.compile(keras.optimizers.Adam(0.01))
    model.fit(GRAPH, epochs=1, verbose=0)  # negative sampling
    model.save(tmp_path / "rgcn.keras")
    restored = keras.saving.load_model(tmp_path / "rgcn.keras")
    np.testing.assert_array_equal(
        ops.convert_to_numpy(restored.graph_triples), GRAPH
    )
    np.testing.assert_allclose(
        ops.convert_to_numpy(restored.score_candidates(QUERIES, "head")),
        ops.convert_to_numpy(model.score_candidates(QUERIES, "head")),
        atol=1e-6,
    )
    assert restored.get_config() == model.get_config()
    assert "graph_triples" not in model.get_config()


@pytest.mark.parametrize(
    "graph, match",
    [
        (None, "pass `graph_triples`"),
        (GRAPH[:, :2], r"must be int \(edges, 3\)"),
        (np.array([[0, 3, 1]]), r"relation ids must be in \[0, 3\)"),
        (np.array([[0, 1, 9]]), r"tail ids must be in \[0, 9\).*row 0"),
    ],
)
def test_bad_graphs_are_named(graph, match):
    with pytest.raises(ValueError, match=f"RGCNLinkPredictor: .*{match}"):
        RGCNLinkPredictor(ENTITIES, RELATIONS, graph)
