"""`RotaryEmbedding`: rotary position embedding (Su et al.), with Llama 3
frequency scaling."""

import keras

from kerasbig import _validation as checks
from kerasbig.ops import positions as position_ops


@keras.saving.register_keras_serializable(package="kerasbig")
class RotaryEmbedding(keras.layers.Layer):
    """Rotary position embedding (RoPE).

    Rotates each pair of features `(x[i], x[i + d/2])` of every token by an
    angle proportional to the token's position, with geometrically spaced
    frequencies, so that dot products between rotated queries and keys
    depend only on relative positions. The "rotate half" layout matches
    GPT-NeoX, LLaMA and `keras_hub.layers.RotaryEmbedding` (linear
    scaling). Sines and cosines are computed in float32 and cast to the
    compute dtype.

    Args:
        max_wavelength: the longest wavelength of the sinusoids (RoFormer's
            base), a positive number. Defaults to `10000`.
        scaling_factor: linear position interpolation: positions are divided
            by this positive number. Defaults to `1.0`.
        frequency_scaling: optional dict, Llama 3.1's frequency-dependent
            scaling (`factor`, `low_freq_factor`, `high_freq_factor`,
            `original_max_position_embeddings`); see
            `kerasbig.ops.rotary_inverse_frequencies`.
        sequence_axis: the sequence axis of the input. Defaults to `1`.
        feature_axis: the feature axis of the input; its size must be even.
            Defaults to `-1`.
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`...).

    Call arguments:
        inputs: a tensor with a sequence and a feature axis, typically
            `(batch, seq, features)` or `(batch, seq, heads, head_dim)`.
        start_index: int or scalar int tensor, the position of the first
            token (for cached decoding). Defaults to `0`.
        positions: optional tensor of positions, shape `(seq,)` or
            `(batch, seq)`; overrides `start_index`.

    Returns:
        The rotated tensor, same shape and dtype as `inputs`. Masks pass
        through unchanged.

    Example:

        >>> import numpy as np
        >>> from kerasbig.layers import RotaryEmbedding
        >>> # batch, seq, heads, head_dim
        >>> queries = np.ones((2, 16, 4, 8), "float32")
        >>> tuple(RotaryEmbedding()(queries).shape)
        (2, 16, 4, 8)

    References:
        - [Su et al., 2021](https://arxiv.org/abs/2104.09864): RoFormer.
    """

    def __init__(
        self,
        max_wavelength=10000,
        scaling_factor=1.0,
        sequence_axis=1,
        feature_axis=-1,
        frequency_scaling=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        checks.positive_number(
            "RotaryEmbedding", "max_wavelength", max_wavelength
        )
        checks.positive_number(
            "RotaryEmbedding", "scaling_factor", scaling_factor
        )
        position_ops.check_frequency_scaling(
            "RotaryEmbedding", "frequency_scaling", frequency_scaling
        )
        self.max_wavelength = max_wavelength
        self.scaling_factor = scaling_factor
        self.frequency_scaling = frequency_scaling
        self.sequence_axis = sequence_axis
        self.feature_axis = feature_axis
        self.supports_masking = True

    def build(self, input_shape):
        sequence_axis, feature_axis = self._axes(len(input_shape))
        features = input_shape[feature_axis]
        if features is not None and features % 2:
            raise ValueError(
                "RotaryEmbedding: the feature axis must have an even size "
                f"(features are rotated in pairs). Received: input_shape="
                f"{tuple(input_shape)} with feature_axis={self.feature_axis}"
            )
        self.built = True

    def call(self, inputs, start_index=0, positions=None):
        rank = len(inputs.shape)
        sequence_axis, feature_axis = self._axes(rank)
        # Move to (batch, seq, ..., features) so tables broadcast from the
        # left as (batch or 1, seq, 1..., features).
        moved = keras.ops.moveaxis(
            inputs, (sequence_axis, feature_axis), (1, -1)
        )
        if positions is None:
            positions = position_ops.sequence_positions(
                keras.ops.shape(moved)[1], start_index
            )
        positions = keras.ops.cast(positions, "float32")
        if len(positions.shape) == 1:
            positions = keras.ops.expand_dims(positions, 0)
        cos, sin = position_ops.rotary_cos_sin(
            positions,
            moved.shape[-1],
            self.max_wavelength,
            self.scaling_factor,
            self.frequency_scaling,
        )
        for _ in range(rank - 3):
            cos = keras.ops.expand_dims(cos, -2)
            sin = keras.ops.expand_dims(sin, -2)
        outputs = position_ops.apply_rotary(moved, cos, sin)
        return keras.ops.moveaxis(
            outputs, (1, -1), (sequence_axis, feature_axis)
        )

    def _axes(self, rank):
        axes = []
        for name in ("sequence_axis", "feature_axis"):
            axis = getattr(self, name)
            if not -rank <= axis < rank:
                raise ValueError(
                    f"RotaryEmbedding: `{name}` is out of range for an input "
                    f"of rank {rank}. Received: {name}={axis}"
                )
            axes.append(axis % rank)
        if axes[0] == axes[1] or 0 in axes:
            raise ValueError(
                "RotaryEmbedding: `sequence_axis` and `feature_axis` must "
                "differ from each other and from the batch axis 0. "
                f"Received: sequence_axis={self.sequence_axis}, "
                f"feature_axis={self.feature_axis}"
            )
        return axes

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "max_wavelength": self.max_wavelength,
                "scaling_factor": self.scaling_factor,
                "sequence_axis": self.sequence_axis,
                "feature_axis": self.feature_axis,
                "frequency_scaling": self.frequency_scaling,
            }
        )
        return config
