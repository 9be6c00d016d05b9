"""Teams and agents, read only (changing them is configuration, done in the product)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Query, Router

from atiende.accounts.models import Team, User
from atiende.accounts.queries import colleagues_visible_to, teams_visible_to
from atiende.api.auth import Caller, caller_of
from atiende.api.errors import COMMON_ERRORS
from atiende.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, paginate
from atiende.api.schemas import AgentRef, Id, Output, agent_ref

router = Router(tags=["teams and agents"])


class TeamOut(Output):
    id: int
    brand: str
    name: str
    is_active: bool
    members: list[AgentRef]


class TeamPage(Output):
    items: list[TeamOut]
    next_cursor: str | None


class AgentOut(Output):
    id: int
    full_name: str
    email: str
    language: str


class AgentPage(Output):
    items: list[AgentOut]
    next_cursor: str | None


def _team_out(team: Team) -> TeamOut:
    return TeamOut(
        id=team.pk,
        brand=team.brand.slug,
        name=team.name,
        is_active=team.is_active,
        members=[ref for member in team.members.all() if (ref := agent_ref(member)) is not None],
    )


def _agent_out(user: User) -> AgentOut:
    return AgentOut(id=user.pk, full_name=user.full_name, email=user.email, language=user.language)


def _teams(caller: Caller) -> QuerySet[Team]:
    return caller.limit(teams_visible_to(caller.actor)).prefetch_related("members")


def _agents(caller: Caller) -> QuerySet[User]:
    return caller.limit(colleagues_visible_to(caller.actor), "memberships__brand_id")


@router.get("/teams", response={200: TeamPage, **COMMON_ERRORS}, summary="List teams")
def list_teams(
    request: HttpRequest,
    brand: str | None = Query(None, description="A brand's slug."),
    cursor: str | None = None,
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> TeamPage:
    rows = _teams(caller_of(request))
    if brand:
        rows = rows.filter(brand__slug=brand)
    page, next_cursor = paginate(rows, order="id", cursor=cursor, limit=limit)
    return TeamPage(items=[_team_out(team) for team in page], next_cursor=next_cursor)


@router.get("/teams/{team_id}", response={200: TeamOut, **COMMON_ERRORS}, summary="Get a team")
def get_team(request: HttpRequest, team_id: Id) -> TeamOut:
    return _team_out(_teams(caller_of(request)).get(pk=team_id))


@router.get("/agents", response={200: AgentPage, **COMMON_ERRORS}, summary="List agents")
def list_agents(
    request: HttpRequest,
    brand: str | None = Query(None, description="A brand's slug."),
    cursor: str | None = None,
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> AgentPage:
    rows = _agents(caller_of(request))
    if brand:
        rows = rows.filter(memberships__brand__slug=brand)
    page, next_cursor = paginate(rows, order="id", cursor=cursor, limit=limit)
    return AgentPage(items=[_agent_out(user) for user in page], next_cursor=next_cursor)


@router.get("/agents/{agent_id}", response={200: AgentOut, **COMMON_ERRORS}, summary="Get an agent")
def get_agent(request: HttpRequest, agent_id: Id) -> AgentOut:
    return _agent_out(_agents(caller_of(request)).get(pk=agent_id))
