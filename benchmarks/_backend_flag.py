"""The `--backend` flag of the benchmarks.

Keras reads KERAS_BACKEND once, when it is first imported, so a benchmark
parses its flags, calls `use_backend(args)`, and only then imports keras.
"""

import os

BACKENDS = ("tensorflow", "jax", "torch")


def add_backend_flag(parser, default="tensorflow", choices=BACKENDS):
    """Adds `--backend` (default: $KERAS_BACKEND when it is one of
    `choices`, else `default`)."""
    environment = os.environ.get("KERAS_BACKEND")
    parser.add_argument(
        "--backend",
        default=environment if environment in choices else default,
        choices=list(choices),
        help=f"Keras backend to run on (default: $KERAS_BACKEND or {default})",
    )


def use_backend(args):
    """Sets KERAS_BACKEND from the parsed `--backend`, before keras loads."""
    os.environ["KERAS_BACKEND"] = args.backend
