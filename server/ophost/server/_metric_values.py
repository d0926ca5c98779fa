"""Counters, gauges and histograms kept as plain numbers, exported when scraped.

prometheus-client's own instruments take a lock on every update, which suits code that
counts from many threads; the host counts from its event loop, around twenty times per
execution, where the locks and checks were most of what metrics cost a call. These
instruments are updated without locks, on the loop only, and a
:class:`LoopKeptMetrics` (a prometheus-client collector, registered in the host's
registry) turns them into metric families when the endpoint is scraped, from its
thread. A scrape reads each value once: a histogram's sum may miss an observation its
buckets already hold, which the next scrape shows.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from typing import Any, cast

from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

__all__ = ["CounterValue", "GaugeValue", "HistogramValue", "LoopKeptMetrics", "MetricFamily"]


# The prometheus-client family each kind is written out as.
_FAMILIES: dict[str, Any] = {
    "counter": CounterMetricFamily,
    "gauge": GaugeMetricFamily,
    "histogram": HistogramMetricFamily,
}


class CounterValue:
    """One labelled counter."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        self.value += amount


class GaugeValue(CounterValue):
    """One labelled gauge."""

    __slots__ = ()

    def dec(self, amount: float = 1.0) -> None:
        self.value -= amount


class HistogramValue:
    """One labelled histogram: a count per bucket (the last is +Inf) and the sum."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0

    def observe(self, amount: float) -> None:
        # A bucket counts the observations at most its bound (Prometheus' "le").
        self.counts[bisect.bisect_left(self.bounds, amount)] += 1
        self.sum += amount


class MetricFamily:
    """A metric's children by their label values (``kind``: counter, gauge or histogram)."""

    def __init__(
        self,
        kind: str,
        name: str,
        documentation: str,
        labelnames: Sequence[str] = (),
        buckets: Sequence[float] = (),
    ) -> None:
        if kind not in _FAMILIES:
            raise ValueError(f"unknown metric kind {kind!r}")
        if kind == "histogram" and list(buckets) != sorted(buckets):
            raise ValueError(f"{name}: buckets must be in increasing order")
        self.kind = kind
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self.bounds = tuple(float(b) for b in buckets)
        self._children: dict[tuple[str, ...], Any] = {}

    def labels(self, *values: str) -> Any:
        """The child for ``values`` (one per label name), made on first use."""
        found = self._children.get(values)
        if found is None:
            if len(values) != len(self.labelnames):
                raise ValueError(
                    f"{self.name} has labels {list(self.labelnames)}, given {list(values)}"
                )
            if self.kind == "histogram":
                found = HistogramValue(self.bounds)
            elif self.kind == "gauge":
                found = GaugeValue()
            else:
                found = CounterValue()
            self._children[values] = found
        return found

    def export(self) -> Metric:
        """The family with every child's values, as prometheus-client writes it out."""
        family: Any = _FAMILIES[self.kind](self.name, self.documentation, labels=self.labelnames)
        children = list(self._children.items())
        if self.kind != "histogram":
            for values, child in children:
                family.add_metric(values, child.value)
            return cast(Metric, family)
        bounds = [*(floatToGoString(b) for b in self.bounds), "+Inf"]  # type: ignore[no-untyped-call]
        for values, child in children:
            counts = list(child.counts)
            total = child.sum
            cumulative: list[tuple[str, float]] = []
            running = 0
            for bound, count in zip(bounds, counts, strict=True):
                running += count
                cumulative.append((bound, float(running)))
            family.add_metric(values, cumulative, total)
        return cast(Metric, family)


class LoopKeptMetrics(Collector):
    """The families of one host, exported to the registry it is registered in."""

    def __init__(self) -> None:
        self._families: list[MetricFamily] = []

    def family(
        self,
        kind: str,
        name: str,
        documentation: str,
        labelnames: Sequence[str] = (),
        buckets: Sequence[float] = (),
    ) -> MetricFamily:
        made = MetricFamily(kind, name, documentation, labelnames, buckets)
        self._families.append(made)
        return made

    def collect(self) -> Iterator[Metric]:
        for family in self._families:
            yield family.export()

    def describe(self) -> Iterator[Metric]:
        # The names without samples: what the registry checks for clashes.
        for family in self._families:
            yield _FAMILIES[family.kind](family.name, family.documentation)
