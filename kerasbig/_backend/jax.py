"""JAX-specific code behind `kerasbig._backend`."""

import functools

import jax
import jax.numpy as jnp
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


def phased_train_step(model, phases, state, data):
    # Keras's JAX trainer hands the step every variable's value in `state`
    # and expects the new values back: run each phase as a pure function
    # of its own variables' values, with every other variable mapped to
    # its current value in a StatelessScope.
    groups = _state_variables(model, with_optimizer=True)
    values = _values_by_id(groups, state)
    every = [variable for group in groups for variable in group]
    for phase in phases:
        for _ in range(phase.repeats):
            _run_phase(phase, data, values, every)
    return _logs(model, values), _state(groups, values)


def phased_test_step(model, phases, state, data):
    groups = _state_variables(model, with_optimizer=False)
    values = _values_by_id(groups, state)
    every = [variable for group in groups for variable in group]
    with keras.StatelessScope(state_mapping=_mapping(every, values)) as scope:
        for phase in phases:
            phase.loss(data, False)
    _collect(scope, every, values)
    return _logs(model, values), _state(groups, values)


def input_gradient(function, x):
    return jax.grad(lambda x: jnp.sum(function(x)))(x)


def _run_phase(phase, data, values, every):
    own = {id(variable) for variable in phase.variables}
    others = [variable for variable in every if id(variable) not in own]

    def loss_fn(phase_values):
        mapping = _mapping(others, values)
        mapping += list(zip(phase.variables, phase_values, strict=True))
        with keras.StatelessScope(state_mapping=mapping) as scope:
            loss = phase.optimizer.scale_loss(phase.loss(data, True))
        updates = {}
        _collect(scope, others, updates)
        return loss, updates

    phase_values = [values[id(variable)] for variable in phase.variables]
    (_, updates), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        phase_values
    )
    values.update(updates)
    optimizer_variables = phase.optimizer.variables
    new_phase_values, new_optimizer_values = phase.optimizer.stateless_apply(
        [values[id(variable)] for variable in optimizer_variables],
        grads,
        phase_values,
    )
    for variable, value in zip(phase.variables, new_phase_values, strict=True):
        values[id(variable)] = value
    for variable, value in zip(
        optimizer_variables, new_optimizer_values, strict=True
    ):
        values[id(variable)] = value


def _state_variables(model, with_optimizer):
    groups = [model.trainable_variables, model.non_trainable_variables]
    if with_optimizer:
        groups.append(model.optimizer.variables)
    groups.append(model.metrics_variables)
    return groups


def _values_by_id(groups, state):
    values = {}
    for group, group_values in zip(groups, state, strict=True):
        for variable, value in zip(group, group_values, strict=True):
            values[id(variable)] = value
    return values


def _mapping(variables, values):
    return [(variable, values[id(variable)]) for variable in variables]


def _collect(scope, variables, values):
    for variable in variables:
        value = scope.get_current_value(variable)
        if value is not None:
            values[id(variable)] = value


def _logs(model, values):
    mapping = _mapping(model.metrics_variables, values)
    with keras.StatelessScope(state_mapping=mapping):
        return model.get_metrics_result()


def _state(groups, values):
    return tuple([values[id(v)] for v in group] for group in groups)


def has_gpu():
    return any(device.platform == "gpu" for device in jax.devices())


def supports_float64():
    return bool(jax.config.jax_enable_x64)


def fused_attention_supports(dtype):
    # JAX's kernel accumulates float16 logits in float32, a dot_general
    # that XLA:CPU does not compile ("precision 'F16_F16_F32' is not
    # supported by dot_general on CPU").
    return dtype != "float16" or has_gpu()


@functools.partial(jax.custom_vjp, nondiff_argnums=(4,))
def _sparse_matmul(rows, columns, values, dense, num_rows):
    messages = dense[columns] * values[:, None]
    return jax.ops.segment_sum(messages, rows, num_rows)


def _sparse_matmul_forward(rows, columns, values, dense, num_rows):
    out = _sparse_matmul(rows, columns, values, dense, num_rows)
    return out, (rows, columns, values, dense)


def _sparse_matmul_backward(num_rows, residuals, upstream):
    # Only the inputs are kept: autodiff of the gather-multiply-segment_sum
    # would keep each (entries, features) product.
    rows, columns, values, dense = residuals
    upstream_rows = upstream[rows]
    grad_values = (upstream_rows * dense[columns]).sum(-1)
    grad_dense = jax.ops.segment_sum(
        upstream_rows * values[:, None], columns, dense.shape[0]
    )
    return None, None, grad_values, grad_dense


_sparse_matmul.defvjp(_sparse_matmul_forward, _sparse_matmul_backward)


def sparse_matmul(rows, columns, values, dense, num_rows):
    return _sparse_matmul(
        jnp.asarray(rows, "int32"),
        jnp.asarray(columns, "int32"),
        jnp.asarray(values),
        jnp.asarray(dense),
        int(num_rows),
    )
