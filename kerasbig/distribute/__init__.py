"""Strategy and distribution selection for every backend.

Filled by the distributed-training work; nothing is public yet.
"""

__all__ = []
