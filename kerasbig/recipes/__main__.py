"""`python -m kerasbig.recipes`: lists the recipes and how to run them."""

import ast
import pathlib

from kerasbig.recipes import NAMES


def summary(name):
    """First line of a recipe's docstring, read without importing it."""
    source = (pathlib.Path(__file__).parent / f"{name}.py").read_text()
    docstring = ast.get_docstring(ast.parse(source)) or ""
    return " ".join(docstring.split("\n\n")[0].split())


def main():
    print("kerasbig recipes; run one with python -m kerasbig.recipes.<name>")
    print("(add --help for its flags, --smoke for a run of seconds):\n")
    width = max(map(len, NAMES))
    for name in NAMES:
        print(f"  {name:<{width}}  {summary(name)}")


if __name__ == "__main__":
    main()
