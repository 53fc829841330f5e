"""Backend-agnostic numerics built on `keras.ops` only.

Segment reductions, masks and rotary maths land here with the layers that
need them (attention and graph issues); nothing is public yet.
"""

__all__ = []
