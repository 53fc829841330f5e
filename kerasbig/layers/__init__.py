"""Attention, embeddings, feed-forward and transformer blocks, and a CRF."""

from kerasbig.layers.crf import CRF
from kerasbig.layers.crf import iob2_allowed_transitions
from kerasbig.layers.embedding import Embedding
from kerasbig.layers.feed_forward import FeedForward
from kerasbig.layers.multi_head_attention import MultiHeadAttention
from kerasbig.layers.position_embedding import PositionEmbedding
from kerasbig.layers.rotary_embedding import RotaryEmbedding
from kerasbig.layers.sinusoidal_position_embedding import (
    SinusoidalPositionEmbedding,
)
from kerasbig.layers.spectral_normalization import SpectralNormalization
from kerasbig.layers.stochastic_depth import StochasticDepth
from kerasbig.layers.token_and_position_embedding import (
    TokenAndPositionEmbedding,
)
from kerasbig.layers.transformer_block import TransformerBlock
from kerasbig.layers.transformer_decoder import TransformerDecoder
from kerasbig.layers.transformer_encoder import TransformerEncoder

__all__ = [
    "CRF",
    "Embedding",
    "FeedForward",
    "MultiHeadAttention",
    "PositionEmbedding",
    "RotaryEmbedding",
    "SinusoidalPositionEmbedding",
    "SpectralNormalization",
    "StochasticDepth",
    "TokenAndPositionEmbedding",
    "TransformerBlock",
    "TransformerDecoder",
    "TransformerEncoder",
    "iob2_allowed_transitions",
]
