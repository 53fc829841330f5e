"""Projections that take a LoRA adapter over their whole (inputs, outputs)
matrix, as Hu et al. (2021) and PEFT define it: `Dense` and `EinsumDense`
with `enable_adapter`. The attention and feed-forward layers build their
projections from these, so `CausalLM.enable_lora` adapts each one the
way PEFT's adapter files describe it.

Keras's own `enable_lora` factorises an `EinsumDense` kernel along its
last axis only: for a `(hidden, heads, head_dim)` query kernel its `B`
is `(rank, head_dim)`, shared by every head, which no PEFT adapter is.
"""

import math
import re

import keras
from keras import ops

ADAPTER_NAMES = ("lora_a", "lora_b")
"""The names of an adapter's two variables (`A`: (inputs, rank), `B`:
(rank, outputs))."""


class _Adaptable:
    """`output + alpha / rank * dropout(x) @ A @ B`, with the kernel's
    input axes flattened into A's rows and its output axes into B's
    columns (PEFT's `lora_A.weight` is A transposed, `lora_B.weight` B
    transposed)."""

    adapter_rank = None  # None: no adapter

    def _input_axes(self):
        return 1  # Dense: (inputs, units)

    def enable_adapter(self, rank, alpha, dropout=0.0, seed=None):
        """Adds the adapter: `A` uniform in ±1/sqrt(inputs) (PEFT's
        Kaiming-uniform initialisation), `B` zero, so the layer's
        outputs do not change; `scale` is `alpha / rank`."""
        if self.adapter_rank is not None:
            raise ValueError(
                f"{type(self).__name__} {self.name!r}: an adapter is "
                "already enabled"
            )
        if getattr(self, "activation", None) not in (
            None,
            keras.activations.linear,
        ):
            raise ValueError(
                f"{type(self).__name__} {self.name!r}: an adapter needs a "
                f"linear projection. Received: activation={self.activation}"
            )
        if self.quantization_mode is not None:
            raise ValueError(
                f"{type(self).__name__} {self.name!r}: an adapter needs a "
                "float kernel (merge adapters before quantizing). Received: "
                f"quantization_mode={self.quantization_mode!r}"
            )
        shape = tuple(self.kernel.shape)
        inputs = self._input_axes()
        self.adapter_inputs = math.prod(shape[:inputs])
        self._adapter_initializer = keras.initializers.RandomUniform(
            -1 / math.sqrt(self.adapter_inputs),
            1 / math.sqrt(self.adapter_inputs),
            seed=seed,
        )
        # Keras locks a built layer's state; its own enable_lora unlocks
        # it the same way (no public way to add variables after build).
        self._tracker.unlock()
        self.lora_a = self.add_weight(
            name=ADAPTER_NAMES[0],
            shape=(self.adapter_inputs, rank),
            initializer=self._adapter_initializer,
            dtype="float32",  # as Keras's LoRA: no underflow in training
        )
        self.lora_b = self.add_weight(
            name=ADAPTER_NAMES[1],
            shape=(rank, math.prod(shape[inputs:])),
            initializer="zeros",
            dtype="float32",
        )
        if dropout:  # a layer only when it drops: nothing to save
            self.adapter_dropout = keras.layers.Dropout(
                dropout, seed=seed, dtype=self.dtype_policy
            )
        self._tracker.lock()
        self.adapter_rank = rank
        self.adapter_alpha = alpha
        self.adapter_dropout_rate = dropout

    @property
    def adapter_scale(self):
        return self.adapter_alpha / self.adapter_rank

    def reset_adapter(self):
        """Gives the adapter fresh values, as `enable_adapter` made them."""
        self.lora_a.assign(self._adapter_initializer(self.lora_a.shape))
        self.lora_b.assign(ops.zeros(self.lora_b.shape))

    def adapter_delta(self):
        """`alpha / rank * A @ B` in the kernel's shape."""
        product = ops.matmul(self.lora_a, self.lora_b)
        delta = self.adapter_scale * ops.reshape(product, self.kernel.shape)
        return ops.cast(delta, self.kernel.dtype)

    def merged_kernel(self):
        """The kernel with the adapter added (the kernel alone without)."""
        if self.adapter_rank is None:
            return self.kernel
        return ops.add(self.kernel, self.adapter_delta())

    def call(self, inputs, training=None):
        outputs = super().call(inputs, training=training)
        if self.adapter_rank is None:
            return outputs
        x = inputs
        if self.adapter_dropout_rate > 0:
            x = self.adapter_dropout(x, training=training)
        shape = tuple(self.kernel.shape)
        inputs_axes = self._input_axes()
        a = ops.reshape(self.lora_a, shape[:inputs_axes] + (-1,))
        b = ops.reshape(self.lora_b, (-1,) + shape[inputs_axes:])
        low = ops.tensordot(x, ops.cast(a, x.dtype), axes=inputs_axes)
        update = ops.tensordot(low, ops.cast(b, x.dtype), axes=1)
        return ops.add(outputs, ops.cast(self.adapter_scale, x.dtype) * update)

    def quantize(self, mode=None, type_check=True, config=None):
        if self.adapter_rank is not None:
            raise ValueError(
                f"{type(self).__name__} {self.name!r}: cannot quantize a "
                "layer with an adapter; merge it first (CausalLM."
                "merge_lora()), then quantize the merged model"
            )
        # Keras refuses to quantize subclasses of Dense and EinsumDense;
        # without an adapter this one's quantized path is Keras's own.
        del type_check
        return super().quantize(mode, type_check=False, config=config)

    def save_own_variables(self, store):
        # The kernel entry holds the merged kernel, as Keras writes an
        # adapted layer's: a model without adapters loads the adapted
        # outputs. CausalLM keeps the unmerged kernel and the adapters.
        if self.adapter_rank is None:
            return super().save_own_variables(store)
        entries = {}
        super().save_own_variables(entries)
        position = self.variable_serialization_spec[None].index("kernel")
        entries[str(position)] = ops.convert_to_numpy(self.merged_kernel())
        for key, value in entries.items():
            store[key] = value

    def load_own_variables(self, store):
        if self.adapter_rank is None:
            return super().load_own_variables(store)
        # Keras checks the file's entries against every variable of the
        # layer; the adapters are not among them (CausalLM restores them).
        by_name = {variable.name: variable for variable in self.weights}
        names = [
            name
            for name in self.variable_serialization_spec[None]
            if name in by_name
        ]
        if len(store.keys()) != len(names):
            raise ValueError(
                f"{type(self).__name__} {self.name!r}: the weights file has "
                f"{len(store.keys())} entries for it; expected {names}"
            )
        for index, name in enumerate(names):
            by_name[name].assign(store[str(index)])


class AdaptableDense(_Adaptable, keras.layers.Dense):
    """A `Dense` layer that takes a PEFT-style LoRA adapter."""


class AdaptableEinsumDense(_Adaptable, keras.layers.EinsumDense):
    """An `EinsumDense` layer that takes a PEFT-style LoRA adapter; its
    equation contracts the input's last axes with the kernel's first
    ones, and the output ends with the kernel's other axes (as
    `"btd,dnh->btnh"` and `"btnh,nhd->btd"` do)."""

    def _input_axes(self):
        inputs, kernel, output = re.split(r",|->", self.equation)
        count = sum(axis in inputs for axis in kernel)
        if not (
            inputs.endswith(kernel[:count]) and output.endswith(kernel[count:])
        ):
            raise ValueError(
                f"AdaptableEinsumDense {self.name!r}: an adapter needs an "
                "equation contracting the input's last axes with the "
                "kernel's first ones. Received: equation="
                f"{self.equation!r}"
            )
        return count
