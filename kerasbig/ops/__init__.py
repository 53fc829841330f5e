"""Backend-agnostic numerics built on `keras.ops` only.

Pure functions that the layers wrap, and `call_with_values` for wrapper
layers; usable on their own in custom layers.
"""

from kerasbig.ops.attention import attend_somewhere
from kerasbig.ops.attention import attention_probabilities
from kerasbig.ops.attention import combine_masks
from kerasbig.ops.attention import position_mask
from kerasbig.ops.penalties import gradient_penalty
from kerasbig.ops.penalties import r1_penalty
from kerasbig.ops.positions import apply_rotary
from kerasbig.ops.positions import rotary_cos_sin
from kerasbig.ops.positions import rotary_inverse_frequencies
from kerasbig.ops.positions import sequence_positions
from kerasbig.ops.positions import sinusoidal_table
from kerasbig.ops.sampling import sample_logits
from kerasbig.ops.segment import gather_rows
from kerasbig.ops.segment import lookup_rows
from kerasbig.ops.segment import segment_max
from kerasbig.ops.segment import segment_mean
from kerasbig.ops.segment import segment_softmax
from kerasbig.ops.segment import segment_sum
from kerasbig.ops.segment import sparse_matmul
from kerasbig.ops.stateless import call_with_values

__all__ = [
    "attend_somewhere",
    "call_with_values",
    "attention_probabilities",
    "combine_masks",
    "position_mask",
    "apply_rotary",
    "gather_rows",
    "gradient_penalty",
    "lookup_rows",
    "r1_penalty",
    "rotary_cos_sin",
    "rotary_inverse_frequencies",
    "sample_logits",
    "segment_max",
    "segment_mean",
    "segment_softmax",
    "segment_sum",
    "sparse_matmul",
    "sequence_positions",
    "sinusoidal_table",
]
