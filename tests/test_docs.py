"""The Python blocks of the guides run, page by page, in order."""

import pathlib
import re

import pytest

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs"
# Guides whose code blocks are complete programs (not shell commands).
# Per push each runs on PyTorch, where the blocks are quickest (compiled
# paths and LiteRT export have their own per-push tests); the optimize
# guide, whose LiteRT blocks show the int8 files, on TensorFlow too. Every
# page runs on every backend in the full tier.
TORCH = pytest.mark.per_push_on("torch")
TORCH_AND_TENSORFLOW = pytest.mark.per_push_on("torch", "tensorflow")
PAGES = [
    pytest.param("layers.md", marks=TORCH),
    pytest.param("llm.md", marks=TORCH),
    pytest.param("graph.md", marks=TORCH),
    pytest.param("knowledge_graphs.md", marks=TORCH),
    pytest.param("generative.md", marks=TORCH),
    pytest.param("optimize.md", marks=TORCH_AND_TENSORFLOW),
    pytest.param("distributed.md", marks=TORCH),
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
