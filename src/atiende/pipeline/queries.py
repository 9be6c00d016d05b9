"""Reads of the service chain's records, scoped to the person asking."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from atiende.accounts.permissions import brand_ids_with
from atiende.accounts.roles import Capability
from atiende.pipeline.models import InboundMessage, InboundStatus

# Upper bounds (ms) of the latency histogram's buckets; the last bucket is open-ended.
LATENCY_BUCKETS_MS = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0)


def inbound_visible_to(user: Any) -> QuerySet[InboundMessage]:
    brand_ids = brand_ids_with(user, Capability.CONFIGURE_BRAND)
    inbound = InboundMessage.objects.select_related("brand")
    return inbound if brand_ids is None else inbound.filter(brand_id__in=brand_ids)


@dataclass(frozen=True)
class StageLatency:
    stage: str
    runs: int
    median_ms: float
    p95_ms: float
    max_ms: float
    # Count per bucket of LATENCY_BUCKETS_MS, plus one for "slower than the last bound".
    histogram: tuple[int, ...]

    @property
    def histogram_shares(self) -> list[tuple[str, int, float]]:
        """(bucket label, count, share of the largest bucket) for drawing bars."""
        labels = [f"≤ {bound:g} ms" for bound in LATENCY_BUCKETS_MS] + [
            f"> {LATENCY_BUCKETS_MS[-1]:g} ms"
        ]
        tallest = max(self.histogram) or 1
        return [
            (label, count, count / tallest)
            for label, count in zip(labels, self.histogram, strict=True)
        ]


def stage_latency_for(user: Any, *, last: int = 5000) -> list[StageLatency]:
    """Per-stage time over the ``last`` processed messages ``user`` may see, slowest median first."""
    rows = (
        inbound_visible_to(user)
        .filter(status=InboundStatus.DONE)
        .order_by("-processed_at")
        .values_list("stage_timings", flat=True)[:last]
    )
    samples: dict[str, list[float]] = defaultdict(list)
    for timings in rows:
        for stage, milliseconds in (timings or {}).items():
            samples[stage].append(float(milliseconds))
    return sorted(
        (_summary(stage, values) for stage, values in samples.items()),
        key=lambda latency: latency.median_ms,
        reverse=True,
    )


def _summary(stage: str, values: list[float]) -> StageLatency:
    ordered = sorted(values)
    histogram = [0] * (len(LATENCY_BUCKETS_MS) + 1)
    for value in ordered:
        index = next(
            (i for i, bound in enumerate(LATENCY_BUCKETS_MS) if value <= bound),
            len(LATENCY_BUCKETS_MS),
        )
        histogram[index] += 1
    return StageLatency(
        stage=stage,
        runs=len(ordered),
        median_ms=statistics.median(ordered),
        p95_ms=ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))],
        max_ms=ordered[-1],
        histogram=tuple(histogram),
    )
