"""ArrayBatches: every row once per epoch, x and y kept together, orders
a function of (seed, epoch), clear errors."""

import numpy as np
import pytest

from kerasbig.data import ArrayBatches

pytestmark = pytest.mark.backend_agnostic


def _epoch(batches, epoch):
    batches.set_epoch(epoch)
    return [batches[i] for i in range(len(batches))]


def test_each_epoch_is_a_permutation_with_rows_kept_together():
    x = {"ids": np.arange(10), "twice": np.arange(10) * 2}
    y = np.arange(10) * 3
    batches = ArrayBatches(x, y, batch_size=3, seed=0)
    assert len(batches) == 4
    orders = []
    for epoch in range(4):
        parts = _epoch(batches, epoch)
        assert [len(p[1]) for p in parts] == [3, 3, 3, 1]
        ids = np.concatenate([p[0]["ids"] for p in parts])
        assert sorted(ids.tolist()) == list(range(10))
        for features, targets in parts:
            np.testing.assert_array_equal(
                features["twice"], 2 * features["ids"]
            )
            np.testing.assert_array_equal(targets, 3 * features["ids"])
        orders.append(tuple(ids.tolist()))
    assert len(set(orders)) == 4


def test_an_order_depends_on_seed_and_epoch_only():
    x = np.arange(50)
    first = ArrayBatches(x, batch_size=7, seed=4)
    first_orders = [
        np.concatenate([b[0] for b in _epoch(first, e)]) for e in (2, 0)
    ]
    again = ArrayBatches(x, batch_size=7, seed=4)
    np.testing.assert_array_equal(
        np.concatenate([b[0] for b in _epoch(again, 2)]), first_orders[0]
    )
    other = ArrayBatches(x, batch_size=7, seed=5)
    assert not np.array_equal(
        np.concatenate([b[0] for b in _epoch(other, 2)]), first_orders[0]
    )


def test_without_a_seed_the_order_is_kept_and_transform_applies():
    batches = ArrayBatches(
        np.arange(5.0), np.arange(5), batch_size=2, transform=lambda a: a + 100
    )
    x = np.concatenate([batches[i][0] for i in range(3)])
    np.testing.assert_array_equal(x, np.arange(5.0) + 100)
    batches.on_epoch_end()
    np.testing.assert_array_equal(batches[0][1], [0, 1])


def test_plain_fit_moves_to_the_next_epoch_order():
    batches = ArrayBatches(np.arange(20), batch_size=20, seed=1)
    first = batches[0][0].copy()
    batches.on_epoch_end()
    assert batches.epoch == 1
    assert not np.array_equal(batches[0][0], first)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"x": np.zeros(4), "y": np.zeros(3)},
            r"first dimension; received lengths \[3, 4\]",
        ),
        (
            {"x": np.zeros(4), "batch_size": 0},
            "batch_size must be >= 1; received 0",
        ),
    ],
)
def test_bad_input_gets_one_clear_line(kwargs, message):
    with pytest.raises(ValueError, match=f"ArrayBatches: .*{message}"):
        ArrayBatches(**kwargs)
