"""Pruning and quantization-aware training for Keras 3.

Filled by the compression work; nothing is public yet.
"""

__all__ = []
