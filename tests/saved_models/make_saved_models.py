"""Writes the `.keras` files that tests/test_saved_models.py loads.

They were written once, by commit 40bcbee (before models/ and graph/
were split into families), with `KERAS_BACKEND=tensorflow python
tests/saved_models/make_saved_models.py`; the test checks that files
saved by earlier kerasbig versions keep loading and predicting the same.
Do not regenerate them after a move: that would test nothing.
"""

import pathlib

import keras
import numpy as np

import kerasbig

HERE = pathlib.Path(__file__).parent


def models():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 20, (2, 6)).astype("int32")
    triples = np.array([[0, 0, 1], [1, 1, 2], [2, 0, 3]], "int32")

    causal_lm = kerasbig.models.CausalLM(
        vocabulary_size=20,
        max_sequence_length=8,
        num_layers=1,
        hidden_dim=8,
        num_heads=2,
        intermediate_dim=16,
    )
    yield "causal_lm", causal_lm, ids

    classifier = kerasbig.models.TransformerClassifier(
        vocabulary_size=20,
        sequence_length=6,
        num_classes=3,
        num_layers=1,
        hidden_dim=8,
        num_heads=2,
        intermediate_dim=16,
    )
    yield "transformer_classifier", classifier, ids

    complex_model = kerasbig.models.ComplEx(4, 2, embedding_dim=4)
    yield "complex", complex_model, triples

    rgcn = kerasbig.models.RGCNLinkPredictor(
        4, 2, triples, embedding_dim=4, num_bases=2, dropout=0.0
    )
    yield "rgcn_link_predictor", rgcn, triples

    encoder = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(4)], name="encoder"
    )
    decoder = keras.Sequential(
        [keras.Input((2,)), keras.layers.Dense(6)], name="decoder"
    )
    vae = kerasbig.models.VAE(encoder, decoder)
    yield "vae", vae, rng.uniform(size=(2, 6)).astype("float32")

    # A functional model of a graph layer: one graph of 4 nodes.
    nodes = keras.Input((3,), batch_size=4, name="x")
    edges = keras.Input((3,), batch_size=2, dtype="int32", name="edges")
    gcn = keras.Model([nodes, edges], kerasbig.graph.GCNConv(4)(nodes, edges))
    graph = [
        rng.normal(size=(4, 3)).astype("float32"),
        np.array([[0, 1, 2], [1, 2, 3]], "int32"),
    ]
    yield "gcn", gcn, graph


def main():
    keras.utils.set_random_seed(0)
    expected = {}
    for name, model, inputs in models():
        for index, array in enumerate(keras.tree.flatten(inputs)):
            expected[f"{name}_input_{index}"] = array
        outputs = keras.tree.flatten(model(inputs, training=False))
        for index, array in enumerate(outputs):
            expected[f"{name}_output_{index}"] = keras.ops.convert_to_numpy(
                array
            )
        model.save(HERE / f"{name}.keras")
    np.savez(HERE / "expected.npz", **expected)


if __name__ == "__main__":
    main()
