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

STRATEGY_BACKENDS = {
    "mirrored": "tensorflow",
    "multiworker": "tensorflow",
    "tpu": "tensorflow",
    "data_parallel": "jax",
}
"""The backend each strategy other than "auto" and "none" runs on."""
