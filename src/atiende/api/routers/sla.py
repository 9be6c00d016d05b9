"""A conversation's service-level state: its timers, and which policy applies and why."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Router

from atiende.api.auth import caller_of
from atiende.api.errors import COMMON_ERRORS
from atiende.api.references import conversation_for
from atiende.api.schemas import Id, Output
from atiende.sla.models import Metric
from atiende.sla.queries import timers_of, why_this_policy

router = Router(tags=["service levels"])


class TimerOut(Output):
    metric: str
    cycle: int
    state: str
    target_minutes: int
    started_at: datetime
    warn_at: datetime | None
    due_at: datetime | None
    met_at: datetime | None
    warned_at: datetime | None
    breached_at: datetime | None
    explanation: str


class PolicyExplanation(Output):
    policy_id: int
    policy: str
    chain: list[str]
    targets: dict[str, int]
    lines: list[str]


class SlaStateOut(Output):
    conversation_id: int
    timers: list[TimerOut]
    policy: PolicyExplanation | None


@router.get(
    "/conversations/{conversation_id}",
    response={200: SlaStateOut, **COMMON_ERRORS},
    summary="A conversation's SLA timers and the policy that applies",
)
def sla_of_conversation(request: HttpRequest, conversation_id: Id) -> SlaStateOut:
    caller = caller_of(request)
    conversation = conversation_for(caller, conversation_id)
    timers = [
        TimerOut(
            metric=timer.metric,
            cycle=timer.cycle,
            state=timer.state,
            target_minutes=timer.target_minutes,
            started_at=timer.started_at,
            warn_at=timer.warn_at,
            due_at=timer.due_at,
            met_at=timer.met_at,
            warned_at=timer.warned_at,
            breached_at=timer.breached_at,
            explanation=timer.explanation,
        )
        for timer in timers_of(conversation, viewer=caller.actor)
    ]
    resolution = why_this_policy(conversation, viewer=caller.actor)
    policy = None
    if resolution is not None:
        policy = PolicyExplanation(
            policy_id=resolution.policy.pk,
            policy=resolution.policy.name,
            chain=[item.name for item in resolution.chain],
            targets={metric: chosen.minutes for metric, chosen in resolution.targets.items()},
            lines=[str(resolution.explain_target(metric)) for metric in Metric.values],
        )
    return SlaStateOut(conversation_id=conversation.pk, timers=timers, policy=policy)
