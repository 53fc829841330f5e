"""Metrics: Frechet and kernel distances over learned features.

Filled by the generative-models work; nothing is public yet.
"""

__all__ = []
