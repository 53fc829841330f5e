"""Keras callbacks: sample grids, weight averaging, pruning steps.

Filled by the generative and compression work; nothing is public yet.
"""

__all__ = []
