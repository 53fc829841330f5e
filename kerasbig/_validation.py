"""Argument checks shared by layers and models.

Each raises a `ValueError` that names the owner (layer or function) and the
argument, says what was expected and ends with `Received: name=value`.
"""

import numbers


def _fail(owner, name, expected, value):
    raise ValueError(
        f"{owner}: `{name}` must be {expected}. Received: {name}={value!r}"
    )


def int_at_least(owner, name, value, minimum, expected=None, allow_none=False):
    """An int `>= minimum` (not a bool), or None when `allow_none`;
    `expected` words the message (default `an int >= minimum`)."""
    if value is None and allow_none:
        return
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or value < minimum
    ):
        _fail(owner, name, expected or f"an int >= {minimum}", value)


def positive_int(owner, name, value, allow_none=False):
    int_at_least(
        owner,
        name,
        value,
        1,
        "None or a positive int" if allow_none else "a positive int",
        allow_none,
    )


def positive_number(owner, name, value):
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not value > 0
    ):
        _fail(owner, name, "a positive number", value)


def rate(owner, name, value):
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not 0 <= value < 1
    ):
        _fail(owner, name, "a number in [0, 1)", value)


def one_of(owner, name, value, choices):
    if value not in choices:
        _fail(owner, name, f"one of {tuple(choices)}", value)


def divisor(owner, name, value, of_name, of):
    """`value` is None or a positive int dividing `of` (named `of_name`)."""
    positive_int(owner, name, value, allow_none=True)
    if value is not None and of % value:
        _fail(owner, name, f"None or a divisor of `{of_name}` ({of})", value)


def sampling_options(owner, temperature, top_k, top_p):
    """The token-sampling arguments of `generate` methods."""
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, numbers.Real)
        or not temperature >= 0
    ):
        _fail(owner, "temperature", "a number >= 0 (0 is greedy)", temperature)
    positive_int(owner, "top_k", top_k, allow_none=True)
    if top_p is not None and (
        isinstance(top_p, bool)
        or not isinstance(top_p, numbers.Real)
        or not 0 < top_p <= 1
    ):
        _fail(owner, "top_p", "None or a number in (0, 1]", top_p)
