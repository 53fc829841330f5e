"""The `output_shape` property of `check_layer`."""

import keras
import numpy as np


def check_output_shape(case):
    layer = case.make_layer()
    eager_shapes = _shape_list(
        keras.tree.map_structure(_shape_of, case.call_eager(layer))
    )
    problems = []
    if not getattr(layer.compute_output_shape, "_is_default", False):
        shapes = keras.tree.map_structure(_shape_of, case.inputs)
        if isinstance(shapes, dict):
            computed = layer.compute_output_shape(
                **{f"{key}_shape": value for key, value in shapes.items()}
            )
        elif isinstance(shapes, list):
            computed = layer.compute_output_shape(*shapes)
        else:
            computed = layer.compute_output_shape(shapes)
        # None is an axis compute_output_shape cannot know from shapes
        # alone (a readout's graph count is a call argument).
        if not _matches(_shape_list(computed), eager_shapes):
            problems.append(
                f"compute_output_shape returned {_shape_list(computed)} but "
                f"the eager call gives output shapes {eager_shapes}"
            )
    symbolic = case.call(case.make_layer(), case.symbolic_inputs())
    symbolic_shapes = _shape_list(keras.tree.map_structure(_shape_of, symbolic))
    if symbolic_shapes != eager_shapes:
        problems.append(
            "the symbolic call (functional API) gives output shapes "
            f"{symbolic_shapes} but the eager call gives {eager_shapes}"
        )
    expected = case.options["expected_output_shape"]
    if expected is not None and _shape_list(expected) != eager_shapes:
        problems.append(
            f"expected output shape {expected}. Received: {eager_shapes}"
        )
    if problems:
        raise AssertionError("; ".join(problems))


def _matches(computed, actual):
    return len(computed) == len(actual) and all(
        len(c) == len(a)
        and all(x is None or x == y for x, y in zip(c, a, strict=True))
        for c, a in zip(computed, actual, strict=True)
    )


def _shape_list(shapes):
    """Flattens a shape or a structure of shapes into a list of tuples."""
    if _is_shape(shapes):
        return [tuple(None if d is None else int(d) for d in shapes)]
    if isinstance(shapes, dict):
        return [s for key in sorted(shapes) for s in _shape_list(shapes[key])]
    return [s for item in shapes for s in _shape_list(item)]


def _is_shape(value):
    return isinstance(value, (tuple, list)) and all(
        isinstance(d, (int, np.integer)) or d is None for d in value
    )


def _shape_of(x):
    return tuple(x.shape)
