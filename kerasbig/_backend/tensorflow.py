"""TensorFlow-specific code behind `kerasbig._backend`."""

import tensorflow as tf


def compile_inference(model, function):
    del model  # tf.function reads the variables directly
    return tf.function(function, jit_compile=True, reduce_retracing=True)


def fori_loop(lower, upper, body, init):
    return tf.while_loop(
        lambda i, value: i < upper,
        lambda i, value: (i + 1, body(i, value)),
        (tf.constant(lower), init),
        maximum_iterations=upper - lower,
    )[1]


def sparse_matmul(rows, columns, values, dense, num_rows):
    # A custom gradient: autodiff of gather * values -> segment_sum would
    # keep each (entries, features) product for the backward pass.
    rows = tf.cast(rows, tf.int32)
    columns = tf.cast(columns, tf.int32)

    @tf.custom_gradient
    def product(values, dense):
        # Unwatched: an eager GradientTape would otherwise record (and
        # keep) the ops inside as well as the custom gradient.
        messages = tf.gather(tf.stop_gradient(dense), columns) * (
            tf.expand_dims(tf.stop_gradient(values), -1)
        )
        out = tf.math.unsorted_segment_sum(messages, rows, num_rows)

        def gradient(upstream):
            # Reading values and dense happens before the optimizer writes
            # them only if the gradient waits for the forward pass: with a
            # loss linear in the output nothing else says so, and Grappler's
            # dependency optimizer then let a non-XLA train step see one
            # variable already updated (12 runs in 40).
            with tf.control_dependencies([out]):
                upstream = tf.identity(upstream)
            upstream_rows = tf.gather(upstream, rows)
            grad_values = tf.reduce_sum(
                upstream_rows * tf.gather(dense, columns), -1
            )
            grad_dense = tf.math.unsorted_segment_sum(
                upstream_rows * tf.expand_dims(values, -1),
                columns,
                tf.shape(dense)[0],
            )
            return grad_values, grad_dense

        return out, gradient

    return product(tf.convert_to_tensor(values), tf.convert_to_tensor(dense))


def lookup_rows(table, indices):
    # A gather's gradient is IndexedSlices with one row per lookup. Keras
    # 3.15's optimizers update with elementwise ops on it, so Adam's second
    # moment of a row looked up k times gets the sum of the k squared
    # pieces, not the square of their sum; a dense gradient is exact.
    indices = tf.convert_to_tensor(indices)

    @tf.custom_gradient
    def gather(values):
        def gradient(upstream):
            rows = tf.reshape(
                upstream, tf.concat([[-1], tf.shape(values)[1:]], 0)
            )
            return tf.math.unsorted_segment_sum(
                rows, tf.reshape(indices, [-1]), tf.shape(values)[0]
            )

        return tf.gather(values, indices), gradient

    return gather(tf.convert_to_tensor(table))


def fake_quant(x, minimum, maximum, per_channel, narrow_range):
    # TensorFlow's own FakeQuant ops: the LiteRT converter reads their
    # ranges and emits int8 kernels (the path tfmot's QAT takes). They
    # take float32 only: mixed-precision inputs go through float32.
    dtype = x.dtype
    x = tf.cast(x, tf.float32)
    minimum = tf.cast(minimum, tf.float32)
    maximum = tf.cast(maximum, tf.float32)
    if per_channel:
        quantized = tf.quantization.fake_quant_with_min_max_vars_per_channel(
            x, minimum, maximum, num_bits=8, narrow_range=narrow_range
        )
    else:
        quantized = tf.quantization.fake_quant_with_min_max_vars(
            x, minimum, maximum, num_bits=8, narrow_range=narrow_range
        )
    return tf.cast(quantized, dtype)


def minimize(loss_fn, optimizer, variables):
    num_replicas, _ = replica_context()
    with tf.GradientTape() as tape:
        # Optimizers sum the replicas' gradients: each replica's share of
        # the global-batch mean is its own mean / num_replicas.
        loss = optimizer.scale_loss(loss_fn() / num_replicas)
    optimizer.apply(tape.gradient(loss, variables), variables)


def replica_context():
    context = tf.distribute.get_replica_context()
    if context is None:  # cross-replica code: not inside a step
        return 1, 0
    return context.num_replicas_in_sync, context.replica_id_in_sync_group


def input_gradient(function, x):
    # A tape inside the caller's tape: the outer one records this
    # gradient computation, so penalties built on it are differentiable.
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = function(x)
    return tape.gradient(y, x)


def has_gpu():
    return bool(tf.config.list_physical_devices("GPU"))


def has_fused_causal_attention():
    # No fused kernel; the causal path would need a builtin LiteRT lacks.
    return False
