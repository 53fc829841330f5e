"""What every architecture's converter shares: the `Tensor` spec (one
Hugging Face tensor and the Keras variables it holds, read and written
from one table), its builders for norms, projections and the LM head, and
the one-line error for a setting CausalLM does not implement."""

import dataclasses
import math

import keras
import numpy as np

CORE_SETTINGS = (
    "vocabulary_size",
    "max_sequence_length",
    "num_layers",
    "hidden_dim",
    "num_heads",
    "intermediate_dim",
    "num_key_value_heads",
    "key_dim",
    "position",
    "rotary",
    "normalize_first",
    "normalization",
    "activation",
    "use_bias",
    "attention_bias",
    "attention_output_bias",
    "feed_forward_bias",
    "tie_embeddings",
    "layer_norm_epsilon",
    "sliding_window",
)
"""The CausalLM settings every converter maps (its `MAPPED_SETTINGS`
add their own); the others (dropout, remat, flash attention, dtype,
initializers) never block a save."""


def unsupported(config, setting, value, expected):
    return ValueError(
        f"CausalLM.from_pretrained: {config['model_type']} config sets "
        f"{setting}={value!r}, which CausalLM does not implement. Expected: "
        f"{expected}"
    )


@dataclasses.dataclass
class Tensor:
    """One Hugging Face tensor and the Keras variables it holds.

    A Keras variable's axes split into input axes (the first `inputs`)
    and output axes; the Hugging Face tensor is the `(in, out)` matrix
    (GPT-2's Conv1D), `(out, in)` when `transposed` (torch's Linear), or
    a vector when `inputs` is 0. Several variables (GPT-2's fused
    query/key/value) are concatenated along the output axis.
    """

    name: str
    variables: tuple
    inputs: int = 1
    transposed: bool = False

    def _matrix(self, shape):
        rows = math.prod(shape[: self.inputs])
        columns = math.prod(shape[self.inputs :])
        if self.inputs == 0:
            return (columns,)
        return (columns, rows) if self.transposed else (rows, columns)

    @property
    def _axis(self):
        return 0 if self.inputs == 0 or self.transposed else 1

    @property
    def shape(self):
        parts = [self._matrix(tuple(v.shape)) for v in self.variables]
        shape = list(parts[0])
        shape[self._axis] = sum(part[self._axis] for part in parts)
        return tuple(shape)

    def to_keras(self, array):
        sizes = [
            self._matrix(tuple(v.shape))[self._axis] for v in self.variables
        ]
        parts = np.split(array, np.cumsum(sizes)[:-1], axis=self._axis)
        return [
            (part.T if self.transposed else part).reshape(tuple(v.shape))
            for part, v in zip(parts, self.variables, strict=True)
        ]

    def to_hugging_face(self, arrays):
        parts = []
        for array in arrays:
            rows = math.prod(array.shape[: self.inputs])
            matrix = array.reshape(rows, -1) if self.inputs else array.ravel()
            parts.append(matrix.T if self.transposed else matrix)
        return np.concatenate(parts, axis=self._axis)


def norm(name, norm):
    if isinstance(norm, keras.layers.RMSNormalization):
        return [Tensor(f"{name}.weight", (norm.scale,), inputs=0)]
    return [
        Tensor(f"{name}.weight", (norm.gamma,), inputs=0),
        Tensor(f"{name}.bias", (norm.beta,), inputs=0),
    ]


def dense(name, dense, inputs=1, transposed=True):
    found = [Tensor(f"{name}.weight", (dense.kernel,), inputs, transposed)]
    if dense.bias is not None:
        found.append(Tensor(f"{name}.bias", (dense.bias,), inputs=0))
    return found


def head(model):
    if model.lm_head is None:
        return []
    return dense("lm_head", model.lm_head)
