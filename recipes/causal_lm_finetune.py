"""Causal LM fine-tuning: a Hugging Face checkpoint with LoRA, or from scratch.

The code is `kerasbig.recipes.causal_lm_finetune`; this launcher runs it
from a checkout as `python -m kerasbig.recipes.causal_lm_finetune` does.
"""

import _launch

_launch.run("causal_lm_finetune")
