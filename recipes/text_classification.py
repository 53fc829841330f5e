"""Text classification: LSTM, BiLSTM, CNN (Kim 2014) or transformer.

The code is `kerasbig.recipes.text_classification`; this launcher runs it from a
checkout as `python -m kerasbig.recipes.text_classification` does.
"""

import _launch

_launch.run("text_classification")
