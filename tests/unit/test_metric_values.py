"""Metrics kept as plain numbers on the loop and written out by prometheus-client."""

from __future__ import annotations

import pytest

# prometheus-client is the metrics extra: an environment without it (make compat's) has
# nothing to test here.
pytest.importorskip("prometheus_client", reason="the metrics extra is not installed")

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ophost.server._metric_values import LoopKeptMetrics


def _samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _registry(kept: LoopKeptMetrics) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(kept)
    return registry


def test_counters_and_gauges_are_written_out_by_their_labels() -> None:
    kept = LoopKeptMetrics()
    calls = kept.family("counter", "calls", "Calls.", ("method",))
    open_now = kept.family("gauge", "open_now", "Open.", ("method",))
    calls.labels("Execute").inc()
    calls.labels("Execute").inc(2)
    calls.labels("ListOps").inc()
    open_now.labels("Execute").inc()
    open_now.labels("Execute").inc()
    open_now.labels("Execute").dec()
    samples = _samples(_registry(kept))
    assert samples[("calls_total", (("method", "Execute"),))] == 3.0
    assert samples[("calls_total", (("method", "ListOps"),))] == 1.0
    assert samples[("open_now", (("method", "Execute"),))] == 1.0


def test_a_histogram_counts_each_value_in_the_first_bucket_it_fits_cumulatively() -> None:
    kept = LoopKeptMetrics()
    seconds = kept.family("histogram", "took_seconds", "Took.", buckets=(0.1, 1.0))
    child = seconds.labels()
    for value in (0.05, 0.1, 0.5, 1.0, 7.0):
        child.observe(value)
    samples = _samples(_registry(kept))
    assert samples[("took_seconds_bucket", (("le", "0.1"),))] == 2.0  # at most the bound
    assert samples[("took_seconds_bucket", (("le", "1.0"),))] == 4.0
    assert samples[("took_seconds_bucket", (("le", "+Inf"),))] == 5.0
    assert samples[("took_seconds_count", ())] == 5.0
    assert samples[("took_seconds_sum", ())] == pytest.approx(8.65)


def test_the_same_labels_give_the_same_child_and_a_wrong_count_is_refused() -> None:
    kept = LoopKeptMetrics()
    calls = kept.family("counter", "calls", "Calls.", ("method", "code"))
    assert calls.labels("Execute", "OK") is calls.labels("Execute", "OK")
    with pytest.raises(ValueError, match=r"calls has labels \['method', 'code'\]"):
        calls.labels("Execute")


def test_a_name_taken_twice_in_one_registry_is_refused() -> None:
    kept = LoopKeptMetrics()
    kept.family("counter", "calls", "Calls.")
    registry = _registry(kept)
    again = LoopKeptMetrics()
    again.family("counter", "calls", "Calls.")
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        registry.register(again)


def test_unsorted_buckets_and_unknown_kinds_are_refused() -> None:
    kept = LoopKeptMetrics()
    with pytest.raises(ValueError, match="increasing order"):
        kept.family("histogram", "h", "H.", buckets=(1.0, 0.5))
    with pytest.raises(ValueError, match="unknown metric kind"):
        kept.family("summary", "s", "S.")
