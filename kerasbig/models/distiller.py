"""`Distiller`: knowledge distillation from a teacher into a student with
`fit()`."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kerasbig")
class Distiller(keras.Model):
    """Knowledge distillation (Hinton et al. 2015) with plain `fit()` on
    every backend.

    The student learns from the labels and from the teacher's softened
    predictions: `loss = alpha * student_loss(y, student(x)) + (1 - alpha)
    * T**2 * distillation_loss(softmax(teacher(x) / T),
    softmax(student(x) / T))`. The `T**2` factor keeps the soft-target
    gradients on the scale of the hard-target ones (Hinton et al., 2.1).
    The teacher is frozen and runs in inference mode. Built on the
    portable `compute_loss` hook, so no backend-specific train step is
    involved. Calling the distiller calls the student; metrics compiled
    with `compile(metrics=...)` score the student.

    Args:
        teacher: a trained Keras model returning logits.
        student: the Keras model to train, returning logits of the same
            shape.
        temperature: softmax temperature `T` of the soft targets.
            Defaults to 3.
        alpha: weight of the hard-label loss, in `[0, 1]`. Defaults to 0.1.
        student_loss: loss on the labels. Defaults to
            `SparseCategoricalCrossentropy(from_logits=True)`.
        distillation_loss: loss between the softened distributions.
            Defaults to `KLDivergence()`.
        **kwargs: `keras.Model` arguments.

    Example:

        >>> import keras, numpy as np
        >>> from kerasbig.models import Distiller
        >>> def mlp(width):
        ...     return keras.Sequential([keras.Input((8,)),
        ...         keras.layers.Dense(width, activation="relu"),
        ...         keras.layers.Dense(3)])
        >>> x = np.random.rand(64, 8).astype("float32")
        >>> y = np.random.randint(0, 3, 64)
        >>> distiller = Distiller(teacher=mlp(64), student=mlp(8))
        >>> distiller.compile("adam", metrics=["accuracy"])
        >>> history = distiller.fit(x, y, epochs=1, verbose=0)
        >>> sorted(history.history)
        ['accuracy', 'distillation_loss', 'loss', 'student_loss']

    References:
        Hinton, Vinyals and Dean, "Distilling the Knowledge in a Neural
        Network", 2015, https://arxiv.org/abs/1503.02531.
    """

    def __init__(
        self,
        teacher,
        student,
        temperature=3.0,
        alpha=0.1,
        student_loss=None,
        distillation_loss=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(temperature, (int, float)) or temperature <= 0:
            raise ValueError(
                "Distiller: `temperature` must be a number > 0. Received: "
                f"temperature={temperature!r}"
            )
        if not isinstance(alpha, (int, float)) or not 0 <= alpha <= 1:
            raise ValueError(
                "Distiller: `alpha` must be in [0, 1]. Received: "
                f"alpha={alpha!r}"
            )
        for name, model in (("teacher", teacher), ("student", student)):
            if not isinstance(model, keras.layers.Layer):
                raise ValueError(
                    f"Distiller: `{name}` must be a Keras model. Received: "
                    f"{name}={model!r}"
                )
        self.teacher = teacher
        self.student = student
        self.teacher.trainable = False
        self.temperature = temperature
        self.alpha = alpha
        self.student_loss = keras.losses.get(
            student_loss
            or keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        )
        self.distillation_loss = keras.losses.get(
            distillation_loss or keras.losses.KLDivergence()
        )
        # Built sub-models make the distiller built, so that a reloaded
        # one restores its optimizer state.
        if student.built and teacher.built:
            self.built = True
        self.student_loss_tracker = keras.metrics.Mean(name="student_loss")
        self.distillation_loss_tracker = keras.metrics.Mean(
            name="distillation_loss"
        )

    def call(self, inputs, training=None):
        return self.student(inputs, training=training)

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        teacher_logits = self.teacher(x, training=False)
        if tuple(teacher_logits.shape[1:]) != tuple(y_pred.shape[1:]):
            raise ValueError(
                "Distiller: teacher and student must return logits of the "
                f"same shape. Received: teacher {teacher_logits.shape}, "
                f"student {y_pred.shape}"
            )
        t = self.temperature
        student_loss = self.student_loss(y, y_pred, sample_weight)
        soft_teacher = ops.softmax(ops.cast(teacher_logits, "float32") / t)
        soft_student = ops.softmax(ops.cast(y_pred, "float32") / t)
        distillation_loss = (
            self.distillation_loss(soft_teacher, soft_student, sample_weight)
            * t**2
        )
        self.student_loss_tracker.update_state(student_loss)
        self.distillation_loss_tracker.update_state(distillation_loss)
        loss = self.alpha * student_loss + (1 - self.alpha) * distillation_loss
        for extra in self.losses:
            loss = loss + ops.cast(extra, loss.dtype)
        return loss

    @property
    def metrics(self):
        return super().metrics + [
            self.student_loss_tracker,
            self.distillation_loss_tracker,
        ]

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "teacher": keras.saving.serialize_keras_object(self.teacher),
                "student": keras.saving.serialize_keras_object(self.student),
                "temperature": self.temperature,
                "alpha": self.alpha,
                "student_loss": keras.losses.serialize(self.student_loss),
                "distillation_loss": keras.losses.serialize(
                    self.distillation_loss
                ),
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for name in ("teacher", "student"):
            config[name] = keras.saving.deserialize_keras_object(config[name])
        for name in ("student_loss", "distillation_loss"):
            config[name] = keras.losses.deserialize(config[name])
        return cls(**config)
