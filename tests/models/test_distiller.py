import keras
import numpy as np
import pytest
from keras import ops

from kerasbig.data import load_digits
from kerasbig.models import Distiller


def _mlp(width, classes=10, name=None):
    return keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(width, activation="relu"),
            keras.layers.Dense(classes),
        ],
        name=name,
    )


@pytest.fixture(scope="module")
def digits():
    (x_train, y_train), (x_test, y_test) = load_digits()
    return (
        (x_train.reshape(-1, 64), y_train),
        (x_test.reshape(-1, 64), y_test),
    )


def test_loss_equals_the_formula():
    keras.utils.set_random_seed(0)
    teacher, student = _mlp(16, 4), _mlp(4, 4)
    distiller = Distiller(teacher, student, temperature=2.5, alpha=0.3)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 64)).astype("float32")
    y = rng.integers(0, 4, 6)
    student_logits = ops.convert_to_numpy(student(x))
    loss = ops.convert_to_numpy(distiller.compute_loss(x, y, student(x)))

    def softmax(z):
        z = np.exp(z - z.max(-1, keepdims=True))
        return z / z.sum(-1, keepdims=True)

    hard = -np.log(softmax(student_logits)[np.arange(6), y]).mean()
    p = np.clip(softmax(ops.convert_to_numpy(teacher(x)) / 2.5), 1e-7, 1)
    q = np.clip(softmax(student_logits / 2.5), 1e-7, 1)
    soft = (p * np.log(p / q)).sum(-1).mean() * 2.5**2
    np.testing.assert_allclose(loss, 0.3 * hard + 0.7 * soft, rtol=1e-4)


# The teacher was compiled and trained on its own: its optimizer's state is
# saved inside the distiller and Keras skips it on reload, with a warning.
@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")
def test_student_learns_from_a_trained_teacher_and_saves(digits, tmp_path):
    (x_train, y_train), (x_test, y_test) = digits
    keras.utils.set_random_seed(0)
    teacher = _mlp(128, name="teacher")
    teacher.compile(
        "adam",
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    teacher.fit(x_train, y_train, epochs=20, batch_size=32, verbose=0)
    frozen = [ops.convert_to_numpy(w) for w in teacher.weights]
    distiller = Distiller(teacher, _mlp(16, name="student"), alpha=0.1)
    distiller.compile(keras.optimizers.Adam(3e-3), metrics=["accuracy"])
    history = distiller.fit(
        x_train, y_train, epochs=20, batch_size=32, verbose=0
    )
    assert history.history["distillation_loss"][-1] < (
        history.history["distillation_loss"][0] / 3
    )
    for before, weight in zip(frozen, teacher.weights, strict=True):
        np.testing.assert_array_equal(before, ops.convert_to_numpy(weight))
    scores = distiller.evaluate(x_test, y_test, verbose=0, return_dict=True)
    assert scores["accuracy"] >= 0.9
    path = tmp_path / "distiller.keras"
    distiller.save(path)
    restored = keras.saving.load_model(path)
    assert restored.temperature == 3.0 and restored.alpha == 0.1
    np.testing.assert_allclose(
        ops.convert_to_numpy(restored(x_test)),
        ops.convert_to_numpy(distiller(x_test)),
        atol=1e-5,
    )


def test_bad_arguments():
    with pytest.raises(ValueError, match="`temperature` must be a number > 0"):
        Distiller(_mlp(4), _mlp(4), temperature=0)
    with pytest.raises(ValueError, match=r"`alpha` must be in \[0, 1\]"):
        Distiller(_mlp(4), _mlp(4), alpha=1.5)
    with pytest.raises(ValueError, match="`student` must be a Keras model"):
        Distiller(_mlp(4), "student")
    distiller = Distiller(_mlp(4, 3), _mlp(4, 5))
    distiller.compile("adam")
    with pytest.raises(ValueError, match="logits of the same shape"):
        distiller.fit(np.zeros((4, 64)), np.zeros(4), verbose=0)
