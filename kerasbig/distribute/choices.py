"""The names `kerasbig.distribute.strategy` accepts. Standard library
only, so a program's `--help` lists them without loading Keras."""

STRATEGIES = (
    "auto",
    "none",
    "mirrored",
    "multiworker",
    "tpu",
    "data_parallel",
)

MODEL_PARALLEL = "model_parallel"
"""Weights sharded over a device mesh (JAX); needs a layout template, so
it is not among the recipes' `--strategy` choices."""

STRATEGY_BACKENDS = {
    "mirrored": "tensorflow",
    "multiworker": "tensorflow",
    "tpu": "tensorflow",
    "data_parallel": "jax",
    MODEL_PARALLEL: "jax",
}
"""The backend each strategy other than "auto" and "none" runs on."""
