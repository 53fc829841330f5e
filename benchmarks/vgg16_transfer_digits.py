"""Does a VGG16 base trained on digits 0-4 help a few-shot 5-9 classifier?

The issue 7 experiment, run with kerasbig.recipes.vgg16_transfer on 32x32
digits, in one process:

1. Pretrain: `--weights none --classes 0,1,2,3,4` (all their training
   images), the base saved with `--save-base-weights`.
2. For each seed and epoch budget, on digits 5-9 with 20 labelled
   training images per class (the same 100 images for both arms of a
   seed; validation and test images are held out per class):
   - transfer: `--weights <pretrained base>`, a new head trained with the
     base frozen for a third of the budget, then every block fine-tuned
     (`--fine-tune-from block1`) for the rest;
   - scratch: `--weights none`, the same network trained from random
     weights for the whole budget.
   Both keep the epoch with the best validation accuracy; the test
   accuracy of that model is printed, per run and averaged over seeds.

    python benchmarks/vgg16_transfer_digits.py
    python benchmarks/vgg16_transfer_digits.py --seeds 0 1 2 --budgets 10 25
"""

import argparse
import importlib
import json
import pathlib
import statistics
import tempfile

import keras


def load_recipe():
    return importlib.import_module("kerasbig.recipes.vgg16_transfer")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--budgets",
        type=int,
        nargs="+",
        default=[10, 25],
        help="total epochs of each arm",
    )
    parser.add_argument("--pretrain-epochs", type=int, default=10)
    parser.add_argument("--output-dir", default=None)
    return parser.parse_args()


def main():
    args = parse_args()
    recipe = load_recipe()
    root = pathlib.Path(args.output_dir or tempfile.mkdtemp())
    base_file = root / "digits04.weights.h5"
    common = ["--learning-rate", "1e-4", "--dropout", "0.2"]
    pretrain = recipe.main(
        [
            "--weights",
            "none",
            "--classes",
            "0,1,2,3,4",
            "--epochs",
            str(args.pretrain_epochs),
            *common,
            "--save-base-weights",
            str(base_file),
            "--output-dir",
            str(root / "pretrain"),
        ]
    )
    few_shot = ["--classes", "5,6,7,8,9", "--train-per-class", "20"]
    results = []
    for budget in args.budgets:
        head = max(1, budget // 3)
        for seed in args.seeds:
            keras.backend.clear_session()
            transfer = recipe.main(
                [
                    "--weights",
                    str(base_file),
                    *few_shot,
                    "--seed",
                    str(seed),
                    "--epochs",
                    str(head),
                    # The pretrained features are small (std ~0.4): the
                    # frozen-base head needs a larger step than 1e-4.
                    "--learning-rate",
                    "1e-2",
                    "--dropout",
                    "0.2",
                    "--fine-tune-epochs",
                    str(budget - head),
                    "--fine-tune-from",
                    "block1",
                    "--fine-tune-learning-rate",
                    "1e-4",
                    "--output-dir",
                    str(root / f"transfer_{budget}_{seed}"),
                ]
            )
            keras.backend.clear_session()
            scratch = recipe.main(
                [
                    "--weights",
                    "none",
                    *few_shot,
                    "--seed",
                    str(seed),
                    "--epochs",
                    str(budget),
                    *common,
                    "--output-dir",
                    str(root / f"scratch_{budget}_{seed}"),
                ]
            )
            results.append(
                {
                    "budget": budget,
                    "seed": seed,
                    "transfer": transfer["test_accuracy"],
                    "scratch": scratch["test_accuracy"],
                    "test_images": transfer["images"]["test"],
                }
            )
            print(json.dumps(results[-1]))
    print(f"pretrain (0-4) test accuracy {pretrain['test_accuracy']:.4f}")
    print("budget  transfer  scratch   (mean test accuracy over seeds)")
    for budget in args.budgets:
        rows = [r for r in results if r["budget"] == budget]
        transfer = statistics.mean(r["transfer"] for r in rows)
        scratch = statistics.mean(r["scratch"] for r in rows)
        print(f"{budget:6d}  {transfer:8.4f}  {scratch:7.4f}")


if __name__ == "__main__":
    main()
