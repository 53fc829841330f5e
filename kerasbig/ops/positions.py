"""Position maths shared by the embedding and attention layers.

Pure functions on `keras.ops`; the layers in `kerasbig.layers` are thin
wrappers around them.
"""

import math

from keras import ops


def sequence_positions(length, start_index=0):
    """Float32 positions `start_index, ..., start_index + length - 1`.

    `start_index` may be a Python int or a scalar tensor (cached decoding).

    Example:

        >>> from keras import ops
        >>> from kerasbig.ops import sequence_positions
        >>> ops.convert_to_numpy(sequence_positions(3, start_index=2)).tolist()
        [2.0, 3.0, 4.0]
    """
    positions = ops.arange(length, dtype="float32")
    return positions + ops.cast(start_index, "float32")


FREQUENCY_SCALING_KEYS = (
    "factor",
    "low_freq_factor",
    "high_freq_factor",
    "original_max_position_embeddings",
)
"""The keys of Llama 3.1's frequency-dependent rotary scaling."""


def check_frequency_scaling(owner, name, frequency_scaling):
    """Raises a one-line error naming `owner` and the argument `name`
    unless `frequency_scaling` is None or a dict of
    `FREQUENCY_SCALING_KEYS` to positive numbers with `high_freq_factor >
    low_freq_factor`."""
    if frequency_scaling is None:
        return
    if not isinstance(frequency_scaling, dict) or sorted(
        frequency_scaling
    ) != sorted(FREQUENCY_SCALING_KEYS):
        raise ValueError(
            f"{owner}: `{name}` must be None or a dict with the "
            f"keys {list(FREQUENCY_SCALING_KEYS)} (Llama 3.1 rotary scaling)."
            f" Received: {frequency_scaling!r}"
        )
    values = frequency_scaling.values()
    if not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0
        for v in values
    ) or (
        frequency_scaling["high_freq_factor"]
        <= frequency_scaling["low_freq_factor"]
    ):
        raise ValueError(
            f"{owner}: `{name}` values must be positive numbers "
            "with high_freq_factor > low_freq_factor. Received: "
            f"{frequency_scaling!r}"
        )


def rotary_inverse_frequencies(
    dim, max_wavelength=10000, scaling_factor=1.0, frequency_scaling=None
):
    """Inverse frequencies `max_wavelength ** (-2i / dim) / scaling_factor`.

    Args:
        dim: the even number of rotated features.
        max_wavelength: the longest wavelength (RoFormer's base, 10000).
        scaling_factor: linear position interpolation; positions are
            divided by it (1.0 = none).
        frequency_scaling: optional dict, Llama 3.1's frequency-dependent
            scaling (Hugging Face's `rope_type: "llama3"`): frequencies
            whose wavelength exceeds `original_max_position_embeddings /
            low_freq_factor` are divided by `factor`, those shorter than
            `original_max_position_embeddings / high_freq_factor` are
            kept, and those between are interpolated smoothly.

    Returns:
        A float32 tensor of shape `(dim // 2,)`.

    Example:

        >>> from keras import ops
        >>> from kerasbig.ops import rotary_inverse_frequencies
        >>> inverse = rotary_inverse_frequencies(4, max_wavelength=100)
        >>> [round(float(f), 3) for f in ops.convert_to_numpy(inverse)]
        [1.0, 0.1]
    """
    exponents = ops.arange(0, dim, 2, dtype="float32") / float(dim)
    inverse = ops.power(float(max_wavelength), -exponents)
    if frequency_scaling is not None:
        inverse = _llama3_scaled(inverse, **frequency_scaling)
    return inverse / float(scaling_factor)


def _llama3_scaled(
    inverse,
    factor,
    low_freq_factor,
    high_freq_factor,
    original_max_position_embeddings,
):
    # As Hugging Face's _compute_llama3_parameters, in float32.
    original = float(original_max_position_embeddings)
    wavelength = (2 * math.pi) / inverse
    scaled = ops.where(
        wavelength > original / low_freq_factor, inverse / factor, inverse
    )
    smooth = (original / wavelength - low_freq_factor) / (
        high_freq_factor - low_freq_factor
    )
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    medium = ops.logical_and(
        wavelength >= original / high_freq_factor,
        wavelength <= original / low_freq_factor,
    )
    return ops.where(medium, smoothed, scaled)


def rotary_cos_sin(
    positions,
    dim,
    max_wavelength=10000,
    scaling_factor=1.0,
    frequency_scaling=None,
):
    """Cosine and sine tables of rotary position embeddings.

    Args:
        positions: float tensor of shape `(seq,)` or `(batch, seq)`.
        dim: the even number of rotated features.
        max_wavelength: see `rotary_inverse_frequencies`.
        scaling_factor: see `rotary_inverse_frequencies`.
        frequency_scaling: see `rotary_inverse_frequencies`.

    Returns:
        `(cos, sin)`, float32 tensors of shape `positions.shape + (dim,)`,
        each half of the last axis repeating the `dim // 2` frequencies
        (the "rotate half" layout of GPT-NeoX, LLaMA and keras-hub).

    Example:

        >>> from kerasbig.ops import rotary_cos_sin, sequence_positions
        >>> cos, sin = rotary_cos_sin(sequence_positions(5), dim=8)
        >>> tuple(cos.shape), tuple(sin.shape)
        ((5, 8), (5, 8))
    """
    inverse = rotary_inverse_frequencies(
        dim, max_wavelength, scaling_factor, frequency_scaling
    )
    # "...s,f->...sf": positions times frequencies
    angles = ops.expand_dims(ops.cast(positions, "float32"), -1) * inverse
    angles = ops.concatenate([angles, angles], axis=-1)
    return ops.cos(angles), ops.sin(angles)


def apply_rotary(x, cos, sin):
    """Rotates feature pairs `(x[i], x[i + dim/2])` by the tabled angles.

    Args:
        x: tensor whose last axis has `dim` features.
        cos: cosine table broadcastable to `x`.
        sin: sine table broadcastable to `x`.

    Returns:
        `x * cos + rotate_half(x) * sin`, in `x`'s dtype.

    Example:

        >>> import numpy as np
        >>> from keras import ops
        >>> from kerasbig.ops import apply_rotary, rotary_cos_sin
        >>> x = np.ones((1, 3, 4), "float32")
        >>> cos, sin = rotary_cos_sin(ops.arange(3, dtype="float32"), dim=4)
        >>> rotated = ops.convert_to_numpy(apply_rotary(x, cos, sin))
        >>> norms = np.linalg.norm(rotated, axis=-1)  # rotations keep norms
        >>> bool(np.allclose(norms, 2.0))
        True
    """
    x = ops.convert_to_tensor(x)
    first, second = ops.split(x, 2, axis=-1)
    rotated = ops.concatenate([-second, first], axis=-1)
    cos = ops.cast(cos, x.dtype)
    sin = ops.cast(sin, x.dtype)
    return x * cos + rotated * sin


def sinusoidal_table(positions, dim, max_wavelength=10000):
    """Fixed sinusoidal position encodings (Vaswani et al. 2017).

    Feature `2i` is `sin(p / max_wavelength ** (2i / dim))` and feature
    `2i + 1` the cosine of the same angle, as in keras-hub's
    `SinePositionEncoding`.

    Args:
        positions: float tensor of shape `(seq,)` or `(batch, seq)`.
        dim: number of features.
        max_wavelength: the longest wavelength.

    Returns:
        A float32 tensor of shape `positions.shape + (dim,)`.

    Example:

        >>> from keras import ops
        >>> from kerasbig.ops import sinusoidal_table
        >>> table = sinusoidal_table(ops.arange(2, dtype="float32"), dim=4)
        >>> ops.convert_to_numpy(table)[0].tolist()  # position 0: sin 0, cos 0
        [0.0, 1.0, 0.0, 1.0]
    """
    features = ops.arange(dim, dtype="int32")
    exponents = ops.cast(2 * (features // 2), "float32") / float(dim)
    timescales = ops.power(1.0 / float(max_wavelength), exponents)
    angles = ops.expand_dims(ops.cast(positions, "float32"), -1) * timescales
    is_cosine = ops.cast(features % 2, "float32")
    return ops.sin(angles) * (1.0 - is_cosine) + ops.cos(angles) * is_cosine
