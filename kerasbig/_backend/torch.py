"""PyTorch-specific code behind `kerasbig._backend`."""

import torch
from keras import ops


def compile_inference(model, function):
    del model

    def run(inputs):
        with torch.no_grad():
            return function(inputs)

    return run


def segment_sum(data, segment_ids, num_segments):
    # Keras's torch segment_sum first repeats the ids to data's full shape
    # (E x F int64: gigabytes for large graphs); index_add broadcasts.
    data = ops.convert_to_tensor(data)
    ids = ops.convert_to_tensor(segment_ids).long()
    out = data.new_zeros((int(num_segments),) + tuple(data.shape[1:]))
    return out.index_add(0, ids, data)


def segment_max(data, segment_ids, num_segments):
    # As segment_sum: an expanded view of the ids instead of a full copy.
    data = ops.convert_to_tensor(data)
    ids = ops.convert_to_tensor(segment_ids).long()
    index = ids.view(-1, *([1] * (data.dim() - 1))).expand_as(data)
    shape = (int(num_segments),) + tuple(data.shape[1:])
    lowest = (
        float("-inf")
        if data.is_floating_point()
        else torch.iinfo(data.dtype).min
    )
    out = data.new_full(shape, lowest)
    return out.scatter_reduce(0, index, data, "amax", include_self=True)


class _SparseMatmul(torch.autograd.Function):
    # Autograd of index_select * values -> index_add would keep each
    # (entries, features) product for the backward pass; this keeps the
    # inputs and recomputes.
    @staticmethod
    def forward(ctx, rows, columns, values, dense, num_rows):
        ctx.save_for_backward(rows, columns, values, dense)
        messages = dense.index_select(0, columns) * values.unsqueeze(-1)
        out = dense.new_zeros((num_rows,) + tuple(dense.shape[1:]))
        return out.index_add(0, rows, messages)

    @staticmethod
    def backward(ctx, upstream):
        rows, columns, values, dense = ctx.saved_tensors
        upstream_rows = upstream.index_select(0, rows)
        grad_values = grad_dense = None
        if ctx.needs_input_grad[2]:
            grad_values = (upstream_rows * dense.index_select(0, columns)).sum(
                -1
            )
        if ctx.needs_input_grad[3]:
            grad_dense = torch.zeros_like(dense).index_add(
                0, columns, upstream_rows * values.unsqueeze(-1)
            )
        return None, None, grad_values, grad_dense, None


def sparse_matmul(rows, columns, values, dense, num_rows):
    return _SparseMatmul.apply(
        ops.convert_to_tensor(rows).long(),
        ops.convert_to_tensor(columns).long(),
        ops.convert_to_tensor(values),
        ops.convert_to_tensor(dense),
        int(num_rows),
    )


def gather_rows(data, indices):
    # Keras's take remaps negative ids and, for 2-D data, goes through
    # embedding(), whose CPU backward is slower than index_select's
    # scatter-add.
    data = ops.convert_to_tensor(data)
    ids = ops.convert_to_tensor(indices).long()
    rows = data.index_select(0, ids.reshape(-1))
    return rows.reshape(tuple(ids.shape) + tuple(data.shape[1:]))


def segment_softmax(logits, segment_ids, num_segments):
    # PyG's softmax in one pass over the segment kernels above: the
    # maximum is taken without gradient (the shift cancels), and no
    # empty-segment masking is needed since only segments that hold rows
    # are gathered back.
    logits = ops.convert_to_tensor(logits)
    dtype = logits.dtype
    logits = logits.float()
    ids = ops.convert_to_tensor(segment_ids).long()
    maximum = segment_max(logits.detach(), ids, num_segments)
    shifted = (logits - maximum.index_select(0, ids)).exp()
    total = segment_sum(shifted, ids, num_segments)
    return (shifted / (total.index_select(0, ids) + 1e-16)).to(dtype)


def minimize(loss_fn, optimizer, variables):
    loss = optimizer.scale_loss(loss_fn())
    # autograd.grad instead of backward(): other networks' variables keep
    # no stale .grad between phases.
    try:
        grads = torch.autograd.grad(
            loss, [variable.value for variable in variables], allow_unused=True
        )
    except RuntimeError as error:
        if "slow_conv2d" not in str(error):
            raise
        raise RuntimeError(_FLOAT16_CONV_ON_CPU.format(error=error)) from error
    with torch.no_grad():
        optimizer.apply(list(grads), variables)


# PyTorch's CPU convolution without float16 oneDNN kernels (CPUs lacking
# AVX512-FP16/AMX-FP16) falls back to slow_conv2d, whose backward rejects
# the channels-last weight gradient of a convolution with one output
# channel; Keras's NHWC layout makes that case common.
_FLOAT16_CONV_ON_CPU = (
    "PyTorch cannot backpropagate this float16 convolution on this CPU "
    "({error}): it happens for a Conv2D with one output channel under a "
    "mixed_float16 policy. Give that layer dtype='float32' (as "
    "kerasbig.models.dcgan_generator does for its output), or train with "
    "'mixed_bfloat16' or 'float32' on a CPU."
)


def input_gradient(function, x):
    x = ops.convert_to_tensor(x).detach().requires_grad_(True)
    y = function(x)
    (grad,) = torch.autograd.grad(y.sum(), x, create_graph=True)
    return grad


def has_gpu():
    return torch.cuda.is_available()
