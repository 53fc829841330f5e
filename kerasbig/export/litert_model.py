"""`LiteRTModel`: a `.tflite` file run with the LiteRT interpreter (predict,
evaluate, latency)."""

import os
import time

import numpy as np

from kerasbig._optional import import_optional


class LiteRTModel:
    """A `.tflite` file, run with the `ai_edge_litert` interpreter.

    Returned by `to_litert`, or opened from any LiteRT file. Inputs are
    fed by name (a dict), or positionally for a single-input model; the
    batch size may differ from the file's (inputs are resized).

    Args:
        path: the `.tflite` file.
        num_threads: interpreter threads. Defaults to the runtime's choice.
        input_names: the file's input names in the order positional inputs
            come in (`to_litert` passes the Keras model's order). Without
            it, a file with several inputs is fed a dict by name: the
            file does not record the Keras order.

    Attributes:
        path: the file path.
        size: the file size in bytes.
        ops: names of the operators in the file, in execution order.
        input_details, output_details: the interpreter's tensor details
            (name, shape, dtype, quantization) of the signature's inputs
            and outputs.
        input_names, output_names: the signature's input and output names
            (inputs in the order positional inputs come in).
        batched: whether every input shares its first axis (examples),
            so that `predict` can split inputs into batches; a graph
            model's file (node features and edges) runs on whole inputs.
        max_abs_difference: for a file `to_litert` wrote, the largest
            |LiteRT - Keras| on its verification inputs; None otherwise.
        tolerance: for a file `to_litert` wrote, the largest difference
            it allowed; None otherwise.

    Example (a file written with `to_litert` on the TensorFlow backend):

        >>> # TensorFlow only: the LiteRT converter
        >>> import tempfile, keras, numpy as np
        >>> from kerasbig.export import to_litert
        >>> model = keras.Sequential(
        ...     [keras.Input((4,), name="x"), keras.layers.Dense(2)])
        >>> path = tempfile.mkdtemp() + "/model.tflite"
        >>> exported = to_litert(model, path)
        >>> exported.predict(np.ones((3, 4), "float32")).shape
        (3, 2)
    """

    def __init__(self, path, num_threads=None, input_names=None):
        interpreter_module = import_optional(
            "ai_edge_litert.interpreter", "Running a LiteRT model"
        )
        self._interpreter_module = interpreter_module
        self._num_threads = num_threads
        self.path = str(path)
        self.size = os.path.getsize(self.path)
        # Set by to_litert when it verified the file against Keras.
        self.max_abs_difference = None
        self.tolerance = None
        self._interpreter = interpreter_module.Interpreter(
            model_path=self.path, num_threads=num_threads
        )
        self._interpreter.allocate_tensors()
        self.ops = [op["op_name"] for op in self._op_details()]
        self._runner = self._interpreter.get_signature_runner()
        details = self._runner.get_input_details()
        self.input_names = sorted(details, key=lambda n: details[n]["index"])
        self._positional = input_names is not None or len(details) == 1
        if input_names is not None:
            if sorted(input_names) != sorted(details):
                raise ValueError(
                    f"LiteRTModel: `input_names` must name the file's inputs "
                    f"{sorted(details)}. Received: {list(input_names)}"
                )
            self.input_names = list(input_names)
        self.input_details = [details[name] for name in self.input_names]
        outputs = self._runner.get_output_details()
        self.output_names = sorted(outputs, key=_output_order(outputs))
        self.output_details = [outputs[name] for name in self.output_names]
        first = {int(d["shape_signature"][0]) for d in self.input_details}
        # Examples along axis 0 when every input has the same (dynamic or
        # fixed) first axis; a graph's node features (N, F) and edges
        # (2, E) share none, and such a file runs on whole inputs.
        self.batched = len(first) == 1

    def __repr__(self):
        return (
            f"LiteRTModel(path={self.path!r}, size={self.size}, "
            f"inputs={self.input_names}, ops={len(self.ops)})"
        )

    def _input_shapes(self):
        return {
            name: _shape(detail)
            for name, detail in zip(
                self.input_names, self.input_details, strict=True
            )
        }

    def _op_details(self):
        # The interpreter has no public way to list a file's operators
        # (name, input and output tensors); this private one is the only
        # place kerasbig calls it, and every LiteRT test goes through it.
        # DELEGATE nodes are the runtime's partitions (XNNPack took those
        # ops over when the file loaded), not ops of the file.
        return [
            op
            for op in self._interpreter._get_ops_details()
            if op["op_name"] != "DELEGATE"
        ]

    def float_compute_ops(self):
        """The ops that compute in floating point: every op but the
        (de)quantizations at the file's edges whose first input is a
        float tensor (in an int8 file, compute left in float)."""
        dtype = {
            d["index"]: d["dtype"]
            for d in self._interpreter.get_tensor_details()
        }
        return [
            op["op_name"]
            for op in self._op_details()
            if op["op_name"] not in ("QUANTIZE", "DEQUANTIZE")
            and len(op["inputs"])
            and op["inputs"][0] >= 0
            and np.issubdtype(dtype[op["inputs"][0]], np.floating)
        ]

    def _feed(self, inputs):
        if not isinstance(inputs, dict):
            flat = inputs if isinstance(inputs, (list, tuple)) else [inputs]
            if not self._positional:
                raise ValueError(
                    f"LiteRTModel: this file has inputs {self.input_names} "
                    "and does not record their Keras order: pass a dict by "
                    "name (or open it with `input_names=`). Received: "
                    f"{len(flat)} arrays by position"
                )
            if len(flat) != len(self.input_names):
                raise ValueError(
                    f"LiteRTModel: expected {len(self.input_names)} inputs "
                    f"{self.input_names}. Received: {len(flat)} arrays"
                )
            inputs = dict(zip(self.input_names, flat, strict=True))
        if set(inputs) != set(self.input_names):
            raise ValueError(
                f"LiteRTModel: expected inputs {self.input_names}. "
                f"Received: inputs named {sorted(inputs)}"
            )
        feed = {}
        for name, detail in zip(
            self.input_names, self.input_details, strict=True
        ):
            array = np.asarray(inputs[name])
            expected = detail["shape_signature"]
            checked = slice(1, None) if self.batched else slice(None)
            if array.ndim != len(expected) or any(
                e not in (-1, s)
                for e, s in zip(
                    expected[checked], array.shape[checked], strict=True
                )
            ):
                raise ValueError(
                    f"LiteRTModel: input {name!r} must have shape "
                    f"{_shape(detail)}. "
                    f"Received: shape {array.shape}"
                )
            feed[name] = array.astype(detail["dtype"])
        return feed

    def predict(self, inputs, batch_size=None):
        """Runs the model on `inputs`.

        When every input has the same first axis (dynamic, or the file's
        fixed batch size), that axis holds examples and may be split into
        calls of `batch_size`. Otherwise (a graph model: node features
        `(N, F)`, `edge_index` `(2, E)`) the inputs share no example axis
        and run whole, in one call.

        Args:
            inputs: an array, a list in input order, or a dict by name.
            batch_size: examples per interpreter call; defaults to all at
                once (or the file's fixed batch size). Not for files whose
                inputs share no example axis.

        Returns:
            An array, or a list of arrays for several outputs.
        """
        feed = self._feed(inputs)
        if not self.batched:
            if batch_size is not None:
                raise ValueError(
                    "LiteRTModel.predict: the inputs "
                    f"{self._input_shapes()} share no example axis (a graph "
                    "model), so they run whole; leave batch_size unset. "
                    f"Received: batch_size={batch_size}"
                )
            outputs = self._runner(**feed)
            merged = [outputs[name] for name in self.output_names]
            return merged[0] if len(merged) == 1 else merged
        counts = {name: len(array) for name, array in feed.items()}
        if len(set(counts.values())) > 1:
            raise ValueError(
                "LiteRTModel.predict: every input needs the same number of "
                f"examples (axis 0). Received: {counts}"
            )
        count = len(next(iter(feed.values())))
        fixed = self.input_details[0]["shape_signature"][0]
        step = int(fixed) if fixed > 0 else (batch_size or count)
        results = []
        for start in range(0, count, step):
            outputs = self._runner(
                **{name: a[start : start + step] for name, a in feed.items()}
            )
            results.append([outputs[name] for name in self.output_names])
        merged = [np.concatenate(parts) for parts in zip(*results, strict=True)]
        return merged[0] if len(merged) == 1 else merged

    def evaluate(self, x, y=None, batch_size=None):
        """Classification accuracy of the file on labelled examples.

        Args:
            x: inputs as for `predict`, or an iterable of `(x, y)` batches
                (a `tf.data.Dataset`, a `keras.utils.PyDataset`, a list).
            y: integer labels (or one-hot rows) when `x` is an array.
            batch_size: as for `predict`.

        Returns:
            A dict: `accuracy` (argmax of the first output against the
            labels) and `examples`.
        """
        batches = [(x, y)] if y is not None else x
        correct = total = 0
        for batch in batches:
            inputs, labels = batch[0], np.asarray(batch[1])
            predicted = self.predict(inputs, batch_size)
            if isinstance(predicted, list):
                predicted = predicted[0]
            if labels.ndim == predicted.ndim:
                labels = labels.argmax(-1)
            correct += int((predicted.argmax(-1) == labels).sum())
            total += len(labels)
        if not total:
            raise ValueError("LiteRTModel.evaluate: got no examples.")
        return {"accuracy": correct / total, "examples": total}

    def latency(self, inputs, runs=100, warmup=10):
        """Single-call latency in milliseconds: `p50`, `p95`, `mean`.

        Times `invoke()` alone, with the input already in place, so the
        figure is the model's and not Python's.

        Args:
            inputs: inputs as for `predict`; their first example is used
                (the whole inputs when they share no example axis).
            runs: timed interpreter calls.
            warmup: untimed calls first.
        """
        feed = self._feed(inputs)
        if self.batched:
            feed = {name: array[:1] for name, array in feed.items()}
        # A second interpreter: the first may hold output views (see
        # predict), which forbid resizing it.
        interpreter = self._interpreter_module.Interpreter(
            model_path=self.path, num_threads=self._num_threads
        )
        for name, detail in zip(
            self.input_names, self.input_details, strict=True
        ):
            interpreter.resize_tensor_input(detail["index"], feed[name].shape)
        interpreter.allocate_tensors()
        for name, detail in zip(
            self.input_names, self.input_details, strict=True
        ):
            interpreter.set_tensor(detail["index"], feed[name])
        times = []
        for i in range(warmup + runs):
            start = time.perf_counter()
            interpreter.invoke()
            if i >= warmup:
                times.append(1000 * (time.perf_counter() - start))
        return {
            "p50": float(np.percentile(times, 50)),
            "p95": float(np.percentile(times, 95)),
            "mean": float(np.mean(times)),
        }


def _shape(detail):
    """A tensor's signature shape, `None` for a dynamic axis."""
    return tuple(int(e) if e >= 0 else None for e in detail["shape_signature"])


def _output_order(outputs):
    """The sort key of a signature's output names: Keras 3 files name
    them output_0, output_1, ... in model order; files of other
    converters (tf-keras names them after layers) keep the order of
    their tensors."""
    numbered = all(
        name.rsplit("_", 1)[-1].isdigit() and name.startswith("output_")
        for name in outputs
    )
    if numbered:
        return lambda name: int(name.rsplit("_", 1)[-1])
    return lambda name: outputs[name]["index"]
