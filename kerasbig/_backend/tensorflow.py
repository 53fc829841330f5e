"""TensorFlow-specific code behind `kerasbig._backend`."""

import tensorflow as tf


def compile_inference(model, function):
    del model  # tf.function reads the variables directly
    return tf.function(function, jit_compile=True, reduce_retracing=True)
