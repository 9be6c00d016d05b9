"""Which SLA policy applies to a conversation, what it resolves to, and why (SL3).

Deterministic: among the brand's active policies that match the conversation, the most specific
scope wins (customer > organization > business area > team > category > brand), then the higher
precedence, then the older policy. The chosen policy's parents fill in what it leaves unset:
each target, the calendar, the pause rules and the warning share come from the nearest policy in
the chain that sets them. For a target, "sets" means a row for the conversation's priority, else
a row for any priority, at that level: a more specific level overrides a less specific one even
when the latter has a row for the exact priority.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from atiende.conversations.models import Conversation
from atiende.core.prepared import PreparedRead
from atiende.sla.models import SCOPE_RANK, Calendar, Metric, Policy, PolicyScope, PolicyTarget

T = TypeVar("T")

DEFAULT_WARNING_PERCENT = 75
DEFAULT_PAUSE_WHEN_PENDING = True
DEFAULT_PAUSE_WHEN_ON_HOLD = True


@dataclass(frozen=True)
class Inherited(Generic[T]):
    value: T
    # The policy that set it; None for the built-in default.
    source: Policy | None


@dataclass(frozen=True)
class ChosenTarget:
    minutes: int
    source: Policy
    # Less specific policies of the chain that also set this target, nearest first.
    overridden: tuple[Policy, ...] = ()


@dataclass(frozen=True)
class Resolution:
    policy: Policy
    chain: tuple[Policy, ...]
    matching: int
    priority: str
    targets: dict[str, ChosenTarget] = field(default_factory=dict)
    calendar: Inherited[Calendar | None] = Inherited(None, None)
    pause_when_pending: Inherited[bool] = Inherited(DEFAULT_PAUSE_WHEN_PENDING, None)
    pause_when_on_hold: Inherited[bool] = Inherited(DEFAULT_PAUSE_WHEN_ON_HOLD, None)
    warning_percent: Inherited[int] = Inherited(DEFAULT_WARNING_PERCENT, None)
    breach_raises_priority: Inherited[bool] = Inherited(False, None)
    breach_team_id: Inherited[int | None] = Inherited(None, None)

    def paused_statuses(self) -> frozenset[str]:
        statuses = set()
        if self.pause_when_pending.value:
            statuses.add("pending")
        if self.pause_when_on_hold.value:
            statuses.add("on_hold")
        return frozenset(statuses)

    def explain_target(self, metric: str) -> str:
        chosen = self.targets.get(metric)
        label = Metric(metric).label
        if chosen is None:
            return _("%(metric)s: no target in %(policy)s or the policies it inherits from.") % {
                "metric": label,
                "policy": _named(self.policy),
            }
        text = _("%(metric)s %(duration)s from %(policy)s") % {
            "metric": label,
            "duration": format_minutes(chosen.minutes),
            "policy": _named(chosen.source),
        }
        for overridden in chosen.overridden:
            text += " " + _("overriding %(policy)s") % {"policy": _named(overridden)}
        return text

    def explanation(self) -> list[str]:
        """Every line a person needs to see why the conversation is measured as it is."""
        lines = [
            ngettext(
                "%(policy)s applies: the only policy that matches this conversation.",
                "%(policy)s applies: the most specific of %(count)d policies that match this conversation.",
                self.matching,
            )
            % {"policy": _named(self.policy), "count": self.matching}
        ]
        lines += [self.explain_target(metric) for metric in Metric.values]
        calendar = self.calendar
        if calendar.value is None:
            lines.append(_("Clock: around the clock (no calendar in the chain)."))
        else:
            lines.append(
                _("Clock: business hours of %(calendar)s, from %(policy)s.")
                % {"calendar": calendar.value.name, "policy": _named(calendar.source)}
            )
        paused = [
            (_("pending on the customer"), self.pause_when_pending),
            (_("on hold"), self.pause_when_on_hold),
        ]
        for status, rule in paused:
            origin = _named(rule.source) if rule.source else _("the default")
            lines.append(
                (
                    _("Paused while %(status)s (%(origin)s).")
                    if rule.value
                    else _("Not paused while %(status)s (%(origin)s).")
                )
                % {"status": status, "origin": origin}
            )
        return lines


def _named(policy: Policy | None) -> str:
    if policy is None:
        return _("the default")
    return f"“{policy.name}” ({policy.level})"


def format_minutes(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    if not hours:
        return _("%(minutes)d min") % {"minutes": rest}
    if not rest:
        return _("%(hours)d h") % {"hours": hours}
    return _("%(hours)d h %(minutes)d min") % {"hours": hours, "minutes": rest}


def _business_area(conversation: Conversation) -> str:
    customer = conversation.customer
    area = (customer.custom_attributes or {}).get("business_area")
    if not area and customer.organization is not None:
        area = (customer.organization.custom_attributes or {}).get("business_area")
    return str(area or "").strip().casefold()


def matches(policy: Policy, conversation: Conversation) -> bool:
    scope = policy.scope
    if scope == PolicyScope.BRAND:
        return True
    if scope == PolicyScope.CATEGORY:
        return policy.category_id is not None and policy.category_id == conversation.category_id
    if scope == PolicyScope.TEAM:
        return policy.team_id is not None and policy.team_id == conversation.team_id
    if scope == PolicyScope.BUSINESS_AREA:
        return bool(
            policy.business_area
        ) and policy.business_area.strip().casefold() == _business_area(conversation)
    if scope == PolicyScope.ORGANIZATION:
        return (
            policy.organization_id is not None
            and policy.organization_id == conversation.customer.organization_id
        )
    if scope == PolicyScope.CUSTOMER:
        return policy.customer_id is not None and policy.customer_id == conversation.customer_id
    return False


def _specificity(policy: Policy) -> tuple[int, int, int]:
    # Older (smaller id) wins a full tie, so adding a policy never silently changes old cases.
    return (SCOPE_RANK[PolicyScope(policy.scope)], policy.precedence, -(policy.pk or 0))


def _any_policy_read(brand_id: int) -> QuerySet[Any]:
    return Policy.objects.filter(brand_id=brand_id).values_list("id")[:1]


# Asked for every batch of inbound mail: compiled once, as building the query cost more than
# answering it.
_ANY_POLICY = PreparedRead(_any_policy_read, brand_id=int)


def has_policies(brand_id: int) -> bool:
    """Whether the brand has any service-level policy (most brands have none until an
    administrator sets service levels): one statement, where :func:`brand_policies` compiles
    two queries."""
    return bool(_ANY_POLICY.rows(brand_id=brand_id))


def brand_policies(brand_id: int) -> dict[int, Policy]:
    """Every policy of the brand with its targets and calendar, by id (two queries)."""
    return {
        policy.pk: policy
        for policy in Policy.objects.filter(brand_id=brand_id)
        .select_related("calendar")
        .prefetch_related("targets")
    }


def _chain(policy: Policy, policies: dict[int, Policy]) -> tuple[Policy, ...]:
    chain, seen = [policy], {policy.pk}
    current = policy
    while current.parent_id is not None and current.parent_id not in seen:
        parent = policies.get(current.parent_id)
        if parent is None:
            break
        chain.append(parent)
        seen.add(parent.pk)
        current = parent
    return tuple(chain)


def _target_at(policy: Policy, metric: str, priority: str) -> PolicyTarget | None:
    exact = generic = None
    for target in policy.targets.all():
        if target.metric != metric:
            continue
        if target.priority == priority:
            exact = target
        elif target.priority == "":
            generic = target
    return exact or generic


def _inherited(chain: Iterable[Policy], attribute: str, default: Any) -> Inherited[Any]:
    for policy in chain:
        value = getattr(policy, attribute)
        if value is not None:
            return Inherited(value, policy)
    return Inherited(default, None)


def resolve(
    conversation: Conversation, policies: dict[int, Policy] | None = None
) -> Resolution | None:
    """The policy that applies to the conversation, resolved target by target; None if none does."""
    if policies is None:
        policies = brand_policies(conversation.brand_id)
    candidates = [
        policy for policy in policies.values() if policy.is_active and matches(policy, conversation)
    ]
    if not candidates:
        return None
    chosen = max(candidates, key=_specificity)
    chain = _chain(chosen, policies)
    targets = {}
    for metric in Metric.values:
        setters = [
            (policy, target)
            for policy in chain
            if (target := _target_at(policy, metric, conversation.priority)) is not None
        ]
        if setters:
            (source, target), *rest = setters
            targets[metric] = ChosenTarget(
                target.minutes, source, tuple(policy for policy, _row in rest)
            )
    calendar_source = next((policy for policy in chain if policy.calendar_id is not None), None)
    return Resolution(
        policy=chosen,
        chain=chain,
        matching=len(candidates),
        priority=conversation.priority,
        targets=targets,
        calendar=Inherited(calendar_source.calendar if calendar_source else None, calendar_source),
        pause_when_pending=_inherited(chain, "pause_when_pending", DEFAULT_PAUSE_WHEN_PENDING),
        pause_when_on_hold=_inherited(chain, "pause_when_on_hold", DEFAULT_PAUSE_WHEN_ON_HOLD),
        warning_percent=_inherited(chain, "warning_percent", DEFAULT_WARNING_PERCENT),
        breach_raises_priority=_inherited(chain, "breach_raises_priority", False),
        breach_team_id=_inherited(chain, "breach_team_id", None),
    )
