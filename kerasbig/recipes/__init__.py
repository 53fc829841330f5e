"""Fit-ready recipes, runnable after `pip install kerasbig[recipes]`.

Each recipe is a module with a `main(argv=None)`; run one with
`python -m kerasbig.recipes.<name> [flags]` (`--help` lists the flags),
or `python -m kerasbig.recipes` for the list. From a checkout,
`python recipes/<name>.py` runs the same code. Nothing is imported here:
a recipe loads only when it runs.
"""

NAMES = (
    "quickstart",
    "prune_quantize",
    "text_classification",
    "vgg16_transfer",
    "node_classification",
    "graph_classification",
    "dcgan",
    "conditional_gan",
    "vae",
    "causal_lm_finetune",
    "link_prediction",
)
