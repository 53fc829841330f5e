"""Runs a recipe of `kerasbig.recipes` from a checkout, as `python -m`
does after `pip install`, with the same quiet start (kerasbig._console)."""

import os
import runpy


def run(name):
    os.environ["_KERASBIG_PROGRAM"] = "1"  # read when kerasbig loads
    runpy.run_module(
        f"kerasbig.recipes.{name}", run_name="__main__", alter_sys=True
    )
