"""Attention, embeddings, feed-forward and transformer blocks."""

from kerasbig.layers.feed_forward import FeedForward
from kerasbig.layers.position_embedding import PositionEmbedding
from kerasbig.layers.rotary_embedding import RotaryEmbedding
from kerasbig.layers.sinusoidal_position_embedding import (
    SinusoidalPositionEmbedding,
)
from kerasbig.layers.stochastic_depth import StochasticDepth
from kerasbig.layers.token_and_position_embedding import (
    TokenAndPositionEmbedding,
)

__all__ = [
    "FeedForward",
    "PositionEmbedding",
    "RotaryEmbedding",
    "SinusoidalPositionEmbedding",
    "StochasticDepth",
    "TokenAndPositionEmbedding",
]
