"""JAX-specific code behind `kerasbig._backend`."""

import jax
import keras


def compile_inference(model, function):
    variables = model.variables

    @jax.jit
    def compiled(values, inputs):
        # jit needs pure functions: feed the variable values as arguments.
        mapping = list(zip(variables, values, strict=True))
        with keras.StatelessScope(state_mapping=mapping):
            return function(inputs)

    def run(inputs):
        return compiled([variable.value for variable in variables], inputs)

    return run
