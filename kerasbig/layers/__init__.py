"""Attention, embeddings, feed-forward and transformer blocks.

Filled by the attention/transformer work; nothing is public yet.
"""

__all__ = []
