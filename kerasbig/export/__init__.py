"""LiteRT (TFLite) export that is verified by running the file.

`to_litert` converts a Keras model (float32, dynamic-range, float16 or
int8) and checks the file against Keras before returning a `LiteRTModel`,
which predicts, evaluates and measures latency with `ai_edge_litert`.
`to_litert_lm` converts a `CausalLM` with prefill and decode signatures
and a key/value cache, checked token for token by `LiteRTGenerator`.
"""

from kerasbig import _console

# `python -m kerasbig.export --help` needs none of them (see _console).
if not _console.DEFER:
    from kerasbig.export.litert_lm import LiteRTGenerator
    from kerasbig.export.litert_lm import to_litert_lm
    from kerasbig.export.litert_model import LiteRTModel
    from kerasbig.export.to_litert import to_litert
else:

    def __getattr__(name):  # a program before its flags parsed
        return _console.load_deferred(__name__, name)


__all__ = ["LiteRTGenerator", "LiteRTModel", "to_litert", "to_litert_lm"]
