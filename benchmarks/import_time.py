"""Import-time cost of kerasbig over `import keras`, per backend.

Each sample is a fresh interpreter, so caches do not help either side:
`python -c "import keras"` against `python -c "import keras, kerasbig"`,
interleaved, the median of --repeats runs each.

    python benchmarks/import_time.py --backends tensorflow jax torch
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

GOAL_SECONDS = 0.3


def time_import(statement, backend):
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", statement],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--backends",
        nargs="+",
        default=["tensorflow", "jax", "torch"],
        help="Keras backends to measure (default: all three)",
    )
    parser.add_argument(
        "--repeats", type=int, default=7, help="interpreters per side"
    )
    args = parser.parse_args()
    print(
        f"{'backend':<11} {'keras (s)':>10} {'+kerasbig (s)':>14} "
        f"{'cost (s)':>9} {'goal':>6}"
    )
    for backend in args.backends:
        keras_times, kerasbig_times = [], []
        for _ in range(args.repeats):
            keras_times.append(time_import("import keras", backend))
            kerasbig_times.append(
                time_import("import keras, kerasbig", backend)
            )
        base = statistics.median(keras_times)
        ours = statistics.median(kerasbig_times)
        cost = ours - base
        verdict = "met" if cost < GOAL_SECONDS else "MISSED"
        print(
            f"{backend:<11} {base:>10.3f} {ours:>14.3f} {cost:>9.3f} "
            f"{verdict:>6}"
        )


if __name__ == "__main__":
    main()
