import pytest

from kerasbig import _validation as checks

# Runs once (on TensorFlow): argument validation is plain Python.
pytestmark = pytest.mark.backend_agnostic


@pytest.mark.parametrize(
    "check, value, expected",
    [
        (checks.positive_int, 0, "a positive int"),
        (checks.positive_int, True, "a positive int"),
        (checks.positive_int, 2.0, "a positive int"),
        (checks.positive_number, float("nan"), "a positive number"),
        (checks.positive_number, "3", "a positive number"),
        (checks.rate, 1.0, "a number in [0, 1)"),
        (checks.rate, -0.5, "a number in [0, 1)"),
    ],
)
def test_messages_name_owner_expectation_and_value(check, value, expected):
    with pytest.raises(ValueError) as info:
        check("MyLayer", "arg", value)
    assert str(info.value) == (
        f"MyLayer: `arg` must be {expected}. Received: arg={value!r}"
    )


def test_valid_values_pass():
    checks.positive_int("L", "n", 3)
    checks.positive_int("L", "n", None, allow_none=True)
    checks.positive_number("L", "x", 0.5)
    checks.rate("L", "r", 0)
    checks.one_of("L", "k", "a", ("a", "b"))
    with pytest.raises(ValueError, match=r"one of \('a', 'b'\)"):
        checks.one_of("L", "k", "c", ("a", "b"))
