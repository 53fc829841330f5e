"""Run as a script (JAX backend, XLA_FLAGS=
--xla_force_host_platform_device_count=8): a grouped-query CausalLM with
untied embeddings, trained one Adam step with and without
`model_parallel` for each layout style on its mesh; prints `RESULTS
{json}`: the largest logit and weight differences against the
unsharded model, and the bytes of trainable weights per device against
the total.

With the argument `small` (4 devices): one 2x2 mesh, both styles, and 3
key/value heads that the model axis of 2 does not divide (6 query heads
it does), the per-push check."""

import json
import sys

import jax
import keras
import numpy as np

import kerasbig as kb

SMALL = sys.argv[1:] == ["small"]
MESHES = (
    {"both": (2, 2)}
    if SMALL
    else {"fsdp": (8, 1), "tensor_parallel": (1, 8), "both": (2, 4)}
)
HEADS = (6, 3) if SMALL else (8, 2)  # query, key/value


def build(compiled=True):
    keras.utils.set_random_seed(0)
    model = kb.models.CausalLM(
        vocabulary_size=128,
        max_sequence_length=16,
        num_layers=2,
        hidden_dim=48 if SMALL else 64,
        num_heads=HEADS[0],
        num_key_value_heads=HEADS[1],
        intermediate_dim=96 if SMALL else 128,
        use_bias=True,
    )
    if not compiled:  # the layout template: no optimizer
        return model
    model.compile(
        keras.optimizers.AdamW(0.001, weight_decay=0.1),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def per_device_bytes(model):
    """Bytes of trainable weights on device 0 (its shards)."""
    total = 0
    for variable in model.trainable_variables:
        for shard in variable.value.addressable_shards:
            if shard.device == jax.devices()[0]:
                total += shard.data.nbytes
    return total


def main():
    rng = np.random.default_rng(0)
    tokens = rng.integers(1, 128, (8, 16)).astype("int32")
    targets = rng.integers(1, 128, (8, 16)).astype("int32")
    kb.distribute.strategy("none")
    reference = build()
    initial = reference.get_weights()
    logits = reference.predict(tokens, verbose=0)
    reference.train_on_batch(tokens, targets)
    trained = reference.get_weights()
    total = sum(v.value.nbytes for v in reference.trainable_variables)
    results = {"devices": len(jax.devices()), "total_bytes": total}
    for style, mesh_shape in MESHES.items():
        kb.distribute.strategy("none")
        distribution = kb.distribute.strategy(
            "model_parallel",
            mesh_shape=mesh_shape,
            model=lambda: build(compiled=False),
            style=style,
        )
        with distribution.scope():
            model = build()
            model.set_weights(initial)
        block = model.decoder.blocks[0]
        attention = block.self_attention
        sharded_logits = model.predict(tokens, verbose=0)
        model.train_on_batch(tokens, targets)
        results[style] = {
            "mesh": list(mesh_shape),
            "logits": float(np.max(np.abs(sharded_logits - logits))),
            "weights": max(
                float(np.max(np.abs(a - b)))
                for a, b in zip(model.get_weights(), trained, strict=True)
            ),
            "bytes_per_device": per_device_bytes(model),
            "sharding": {
                name: str(variable.value.sharding.spec)
                for name, variable in (
                    ("query", attention.query_dense.kernel),
                    ("key", attention.key_dense.kernel),
                    ("output", attention.output_dense.kernel),
                    ("down", block.feed_forward.down_proj.kernel),
                    ("embeddings", model.embedding.token_embedding.embeddings),
                    ("lm_head", model.lm_head.kernel),
                    ("norm", block.self_attention_norm.weights[0]),
                )
            },
            "replicas": kb.distribute.num_replicas(distribution),
        }
    print("RESULTS " + json.dumps(results))


if __name__ == "__main__":
    main()
