"""`TransformerClassifier`: a transformer encoder with a classification head."""

import keras
from keras import ops

from kerasbig import _validation as checks
from kerasbig.layers import TokenAndPositionEmbedding
from kerasbig.layers import TransformerEncoder
from kerasbig.models.language._functional import FunctionalModel

_POOLINGS = ("mean", "first")


# Only this model uses it; the registered name is unchanged
# ("kerasbig>MaskedGlobalAveragePooling1D"), so saved models still load.
@keras.saving.register_keras_serializable(package="kerasbig")
class MaskedGlobalAveragePooling1D(keras.layers.GlobalAveragePooling1D):
    """`GlobalAveragePooling1D` whose all-padding rows pool to zeros.

    Keras divides by the number of real steps, which is 0 for a sequence
    of padding only (an empty text): the result is NaN, and one such row
    turns a whole batch's loss into NaN.
    """

    def call(self, inputs, mask=None):
        if mask is None:
            return super().call(inputs)
        weights = ops.expand_dims(ops.cast(mask, inputs.dtype), -1)
        total = ops.sum(inputs * weights, axis=1)
        count = ops.maximum(ops.sum(weights, axis=1), 1.0)
        return total / count


@keras.saving.register_keras_serializable(package="kerasbig")
class TransformerClassifier(FunctionalModel):
    """Token ids → class logits with a transformer encoder.

    A functional model: token and position embedding (id 0 is padding when
    `mask_zero=True`, and padding never changes the result), dropout, a
    `TransformerEncoder`, masked pooling over the sequence, dropout and a
    dense layer giving `num_classes` logits (train with
    `SparseCategoricalCrossentropy(from_logits=True)`).

    Args:
        vocabulary_size: number of token ids.
        num_classes: number of classes (output logits).
        sequence_length: length of the input sequences (the input shape
            and the size of a learned position table).
        num_layers: encoder blocks. Defaults to `2`.
        hidden_dim: model width. Defaults to `256`.
        num_heads: attention heads. Defaults to `4`.
        intermediate_dim: feed-forward width. Defaults to `512`.
        dropout: dropout rate of the embeddings, the attention
            probabilities, each residual branch and the pooled features
            (BERT's placement).
        activation: feed-forward activation. Defaults to `"gelu"`.
        normalize_first: pre-norm blocks. Defaults to `False`.
        normalization: `"layer_norm"` (default) or `"rms_norm"`.
        position: `"learned"` (default), `"sinusoidal"`, `"rotary"` or
            `"none"`.
        pooling: `"mean"` (default, over real tokens) or `"first"` (a
            leading CLS-style token).
        mask_zero: treat id 0 as padding. Defaults to `True`.
        remat: recompute each encoder block's activations in the
            backward pass (`TransformerBlock`'s `remat`). Defaults to
            `False`.
        dtype: dtype policy of every layer (e.g. `"mixed_bfloat16"`).
        **kwargs: `keras.Model` arguments such as `name`.

    Example:

        >>> import numpy as np
        >>> from kerasbig.models import TransformerClassifier
        >>> model = TransformerClassifier(
        ...     vocabulary_size=100, num_classes=3, sequence_length=16,
        ...     hidden_dim=32, intermediate_dim=64)
        >>> ids = np.random.default_rng(0).integers(1, 100, (4, 16))
        >>> tuple(model(ids).shape)
        (4, 3)
    """

    _config_names = (
        "vocabulary_size",
        "num_classes",
        "sequence_length",
        "num_layers",
        "hidden_dim",
        "num_heads",
        "intermediate_dim",
        "dropout",
        "activation",
        "normalize_first",
        "normalization",
        "position",
        "pooling",
        "mask_zero",
        "remat",
    )

    def __init__(
        self,
        vocabulary_size,
        num_classes,
        sequence_length,
        num_layers=2,
        hidden_dim=256,
        num_heads=4,
        intermediate_dim=512,
        dropout=0.1,
        activation="gelu",
        normalize_first=False,
        normalization="layer_norm",
        position="learned",
        pooling="mean",
        mask_zero=True,
        remat=False,
        dtype=None,
        **kwargs,
    ):
        owner = "TransformerClassifier"
        checks.positive_int(owner, "num_classes", num_classes)
        checks.one_of(
            owner,
            "position",
            position,
            ("learned", "sinusoidal", "rotary", "none"),
        )
        checks.one_of(owner, "pooling", pooling, _POOLINGS)
        checks.rate(owner, "dropout", dropout)
        token_ids = keras.Input(
            shape=(sequence_length,), dtype="int32", name="token_ids"
        )
        embedding = TokenAndPositionEmbedding(
            vocabulary_size,
            sequence_length,
            hidden_dim,
            position="none" if position == "rotary" else position,
            mask_zero=mask_zero,
            name="embedding",
            dtype=dtype,
        )
        encoder = TransformerEncoder(
            num_layers,
            num_heads,
            intermediate_dim,
            normalize_first=normalize_first,
            normalization=normalization,
            activation=activation,
            dropout=dropout,
            attention_dropout=dropout,
            rotary=position == "rotary",
            remat=remat,
            name="encoder",
            dtype=dtype,
        )
        x = embedding(token_ids)
        x = keras.layers.Dropout(
            dropout, name="embedding_dropout", dtype=dtype
        )(x)
        x = encoder(x)
        if pooling == "first":
            pooled = x[:, 0]
        else:
            pooled = MaskedGlobalAveragePooling1D(name="pooling", dtype=dtype)(
                x
            )
        pooled = keras.layers.Dropout(
            dropout, name="pooled_dropout", dtype=dtype
        )(pooled)
        logits = keras.layers.Dense(
            num_classes, name="classifier", dtype=dtype
        )(pooled)
        super().__init__(token_ids, logits, dtype=dtype, **kwargs)
        self.vocabulary_size = vocabulary_size
        self.num_classes = num_classes
        self.sequence_length = sequence_length
        self.num_layers = num_layers
        self.hidden_dim = hidden_dim
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.activation = activation
        self.normalize_first = normalize_first
        self.normalization = normalization
        self.position = position
        self.pooling = pooling
        self.mask_zero = mask_zero
        self.remat = remat
