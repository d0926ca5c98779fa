"""The per-call options of the Python client, without a server: deadlines and metadata."""

from __future__ import annotations

import time

import grpc
import pytest

from ophost_client import OpHostRpcError
from ophost_client._options import CallOptions, check_timeout, merge_metadata
from ophost_client._session import MAX_REATTACH_BACKOFF, ReattachPolicy


def test_no_timeout_is_no_deadline() -> None:
    options = CallOptions.begin(None, None)
    assert options.deadline is None
    assert options.remaining() is None
    assert options.metadata == ()


def test_the_deadline_is_fixed_when_the_call_begins() -> None:
    options = CallOptions.begin(10.0, [("k", "v")])
    first = options.remaining()
    assert first is not None
    assert 9.0 < first <= 10.0
    time.sleep(0.05)
    second = options.remaining()
    assert second is not None
    assert second < first
    assert options.metadata == (("k", "v"),)


def test_past_the_deadline_no_rpc_starts() -> None:
    options = CallOptions.begin(0.01, None)
    time.sleep(0.03)
    with pytest.raises(OpHostRpcError) as info:
        options.remaining()
    assert info.value.code is grpc.StatusCode.DEADLINE_EXCEEDED


def test_metadata_is_kept_from_a_one_shot_iterable() -> None:
    pairs: list[tuple[str, str | bytes]] = [("a", "1"), ("b-bin", b"\x00")]
    options = CallOptions.begin(None, iter(pairs))
    assert options.metadata == (("a", "1"), ("b-bin", b"\x00"))
    assert options.metadata == (("a", "1"), ("b-bin", b"\x00"))  # still there the second time


@pytest.mark.parametrize("timeout", [0, -1, -0.5, float("nan")])
def test_timeouts_must_be_positive(timeout: float) -> None:
    with pytest.raises(ValueError, match="timeout must be > 0 or None"):
        check_timeout(timeout)
    with pytest.raises(ValueError, match="timeout"):
        CallOptions.begin(timeout, None)


def test_merged_metadata_replaces_the_keys_it_sets() -> None:
    base = (("x-team", "a"), ("x-keep", "yes"), ("x-team", "a2"))
    extra = (("x-team", "b"), ("x-new", "1"))
    assert merge_metadata(base, extra) == (("x-keep", "yes"), ("x-team", "b"), ("x-new", "1"))
    assert merge_metadata(base, ()) == base
    assert merge_metadata((), extra) == extra


def test_reattach_backoff_doubles_up_to_a_cap() -> None:
    policy = ReattachPolicy(attempts=10, backoff=0.5)
    assert [policy.delay(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert policy.delay(5) == policy.delay(9) == MAX_REATTACH_BACKOFF
    with pytest.raises(ValueError, match="reattach_attempts"):
        ReattachPolicy(attempts=-1, backoff=0.1)
    with pytest.raises(ValueError, match="reattach_backoff"):
        ReattachPolicy(attempts=1, backoff=-0.1)
