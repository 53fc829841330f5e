"""The Python blocks of the guides run, page by page, in order."""

import pathlib
import re

import pytest

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs"
# Guides whose code blocks are complete programs (not shell commands).
PAGES = [
    "layers.md",
    # Trains LoRA and (on TensorFlow) exports: per push on TensorFlow.
    pytest.param("llm.md", marks=pytest.mark.tensorflow_per_push),
    "graph.md",
    "knowledge_graphs.md",
    "generative.md",
    "optimize.md",
    "distributed.md",
]


def _python_blocks(page):
    text = (DOCS / page).read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


@pytest.mark.parametrize("page", PAGES)
def test_guide_code_blocks_run(page, capsys):
    blocks = _python_blocks(page)
    assert blocks, f"no python blocks in docs/{page}"
    namespace = {"__name__": f"docs_{page}"}
    for index, block in enumerate(blocks):
        try:
            exec(compile(block, f"docs/{page}[{index}]", "exec"), namespace)
        except Exception as error:
            raise AssertionError(
                f"docs/{page} python block {index} failed:\n{block}"
            ) from error
