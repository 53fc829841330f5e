"""LiteRT (TFLite) conversion and running converted models.

The public `to_litert` / `LiteRTModel` API is built by the compression
work on top of the private conversion helpers in `_litert`, which the
conformance harness already uses.
"""

__all__ = []
