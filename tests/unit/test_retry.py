"""RetryPolicy, Backoff, Jitter: construction rules and the delay formula."""

from __future__ import annotations

import random

import pytest

from ophost import Backoff, DefinitionError, InvalidArgumentError, Jitter, RetryPolicy


def test_enum_members_are_name_equals_value() -> None:
    assert [(m.name, m.value) for m in Backoff] == [
        ("LINEAR", "LINEAR"),
        ("EXPONENTIAL", "EXPONENTIAL"),
    ]
    assert [(m.name, m.value) for m in Jitter] == [("FULL", "FULL"), ("PLUS_MINUS", "PLUS_MINUS")]


def test_defaults_and_positional_form() -> None:
    assert RetryPolicy() == RetryPolicy(1, None, None, None)
    policy = RetryPolicy(3, 2, Backoff.LINEAR, Jitter.FULL)
    assert (policy.max_retries, policy.delay, policy.backoff, policy.jitter) == (
        3,
        2,
        Backoff.LINEAR,
        Jitter.FULL,
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        # The messages name what is actually wrong (0.14.20 swaps these two).
        (
            {"backoff": Backoff.LINEAR},
            DefinitionError,
            "can not set backoff without also setting delay",
        ),
        ({"jitter": Jitter.FULL}, DefinitionError, "can not set jitter without also setting delay"),
        ({"max_retries": None}, InvalidArgumentError, "max_retries must be an int"),
        ({"max_retries": "3"}, InvalidArgumentError, "max_retries must be an int"),
        ({"delay": "1"}, InvalidArgumentError, "delay must be a number"),
        ({"delay": 1, "backoff": "LINEAR"}, InvalidArgumentError, "backoff must be a Backoff"),
        ({"delay": 1, "jitter": "FULL"}, InvalidArgumentError, "jitter must be a Jitter"),
    ],
    ids=[
        "backoff-no-delay",
        "jitter-no-delay",
        "none-retries",
        "str-retries",
        "str-delay",
        "str-backoff",
        "str-jitter",
    ],
)
def test_validation(kwargs: dict[str, object], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [{"max_retries": -1}, {"delay": -5}, {"delay": True}, {"max_retries": 0}],
    ids=["negative-retries", "negative-delay", "bool-delay", "zero-retries"],
)
def test_no_range_checks(kwargs: dict[str, object]) -> None:
    RetryPolicy(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (RetryPolicy(delay=2), [2, 2, 2, 2]),
        (RetryPolicy(delay=2, backoff=Backoff.LINEAR), [2, 4, 6, 8]),
        (RetryPolicy(delay=2, backoff=Backoff.EXPONENTIAL), [2, 6, 14, 30]),
        (RetryPolicy(delay=0.5, backoff=Backoff.EXPONENTIAL), [0.5, 1.5, 3.5, 7.5]),
        (RetryPolicy(), [0, 0, 0, 0]),
    ],
    ids=["constant", "linear", "exponential", "exponential-float", "no-delay"],
)
def test_delay_formula(policy: RetryPolicy, expected: list[float]) -> None:
    assert [policy.calculate_delay(n) for n in (1, 2, 3, 4)] == expected


def test_no_delay_is_int_zero() -> None:
    value = RetryPolicy().calculate_delay(1)
    assert value == 0
    assert type(value) is int


def test_full_jitter_uses_global_random() -> None:
    policy = RetryPolicy(delay=2, backoff=Backoff.LINEAR, jitter=Jitter.FULL)
    random.seed(7)
    expected = [random.random() * 2 * n for n in (1, 2, 3)]
    random.seed(7)
    assert [policy.calculate_delay(n) for n in (1, 2, 3)] == expected


def test_plus_minus_jitter_spreads_by_base_delay() -> None:
    policy = RetryPolicy(delay=2, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS)
    random.seed(11)
    draws = [random.random() for _ in range(3)]
    random.seed(11)
    got = [policy.calculate_delay(n) for n in (1, 2, 3)]
    # (2^n - 1) * base, then +/- base (not +/- the backed-off value).
    assert got == [d + (2 * r * 2 - 2) for d, r in zip([2, 6, 14], draws, strict=True)]


def test_plus_minus_can_go_negative() -> None:
    # With attempt 0 and linear backoff the backed-off delay (0) is below the base (1).
    policy = RetryPolicy(delay=1, backoff=Backoff.LINEAR, jitter=Jitter.PLUS_MINUS)
    random.seed(0)
    values = [policy.calculate_delay(0) for _ in range(50)]
    assert min(values) < 0 < max(values)
    assert all(-1 <= v < 1 for v in values)


def test_policy_is_immutable() -> None:
    policy = RetryPolicy()
    with pytest.raises(AttributeError):
        policy.max_retries = 3  # type: ignore[misc]
