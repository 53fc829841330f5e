"""sparse_matmul equals the dense product and its gradients equal the
closed form, eager and compiled, on every backend."""

import keras
import numpy as np
import pytest
from keras import ops

from kerasbig.ops import sparse_matmul

RNG = np.random.default_rng(0)
ROWS = np.array([0, 2, 2, 0, 3, 2], "int32")  # row 1 gets nothing
COLUMNS = np.array([1, 0, 1, 1, 4, 4], "int32")  # (0, 1) twice
VALUES = RNG.normal(size=6).astype("float32")
DENSE = RNG.normal(size=(5, 3)).astype("float32")
UPSTREAM = RNG.normal(size=(4, 3)).astype("float32")


def _dense_matrix(values):
    matrix = np.zeros((4, 5), "float32")
    np.add.at(matrix, (ROWS, COLUMNS), values)
    return matrix


def test_equals_the_dense_product():
    got = ops.convert_to_numpy(sparse_matmul(ROWS, COLUMNS, VALUES, DENSE, 4))
    np.testing.assert_allclose(got, _dense_matrix(VALUES) @ DENSE, atol=1e-6)


class Product(keras.Model):
    def __init__(self):
        super().__init__()
        self.values = self.add_weight(
            shape=(6,), initializer=lambda shape, dtype=None: VALUES
        )
        self.dense = self.add_weight(
            shape=(5, 3), initializer=lambda shape, dtype=None: DENSE
        )

    def call(self, upstream):
        out = sparse_matmul(ROWS, COLUMNS, self.values, self.dense, 4)
        return out * upstream


@pytest.mark.parametrize("run_eagerly", [False, True])
@pytest.mark.parametrize("attempt", range(4))
def test_gradients_equal_the_closed_form(run_eagerly, attempt):
    # One SGD step at learning rate 1 on loss sum(out * upstream) moves
    # each weight by minus its gradient. The loss is linear in the output,
    # so nothing but the op itself orders the forward reads before the
    # optimizer's writes: a TensorFlow train step without that order saw
    # the other weight already updated in about half the runs, hence
    # several attempts.
    del attempt
    model = Product()
    model.compile(
        keras.optimizers.SGD(1.0),
        loss=lambda y, pred: ops.sum(pred),
        run_eagerly=run_eagerly,
    )
    model.train_on_batch(UPSTREAM, UPSTREAM)
    grad_values = (UPSTREAM[ROWS] * DENSE[COLUMNS]).sum(-1)
    grad_dense = _dense_matrix(VALUES).T @ UPSTREAM
    np.testing.assert_allclose(
        VALUES - ops.convert_to_numpy(model.values), grad_values, atol=1e-5
    )
    np.testing.assert_allclose(
        DENSE - ops.convert_to_numpy(model.dense), grad_dense, atol=1e-5
    )
