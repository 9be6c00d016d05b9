"""The inbox filter read from an address and written back: plain Python, no database."""

from datetime import date

from django.http import QueryDict

from atiende.inbox.filters import (
    InboxFilter,
    filter_from_dict,
    filter_to_dict,
    parse_query,
    query_items,
)


def test_an_empty_address_is_open_work_in_the_default_view_sorted_by_deadline():
    parsed = parse_query(QueryDict(""), default_view="mine")
    assert parsed.view == "mine"
    assert parsed.filter == InboxFilter()
    assert parsed.filter.open_work_only
    assert parsed.filter.effective_sort == "due"
    assert parsed.notices == []


def test_every_condition_is_read_repeated_or_comma_separated():
    parsed = parse_query(
        QueryDict(
            "view=all&brand=tienda&status=open&status=pending&priority=urgent,high"
            "&channel=email&team=3&assignee=me&assignee=none&assignee=7&tag=Entrega"
            "&language=es&sla=overdue&created_from=2026-01-01&created_to=2026-01-31"
            "&updated_from=2026-02-01&updated_to=2026-02-02&sort=priority"
        )
    )
    assert parsed.notices == []
    assert parsed.view == "all"
    assert parsed.filter == InboxFilter(
        brands=("tienda",),
        statuses=("open", "pending"),
        priorities=("urgent", "high"),
        channels=("email",),
        teams=(3,),
        assignees=("me", "none", "7"),
        tags=("entrega",),
        languages=("es",),
        sla=("overdue",),
        created_from=date(2026, 1, 1),
        created_to=date(2026, 1, 31),
        updated_from=date(2026, 2, 1),
        updated_to=date(2026, 2, 2),
        sort="priority",
    )


def test_bad_values_are_dropped_with_a_notice_each_and_good_ones_kept():
    parsed = parse_query(
        QueryDict(
            "view=everything&status=open&status=lost&priority=asap&team=abc&team=4"
            "&assignee=someone&sla=late&created_from=yesterday&sort=random"
        )
    )
    assert parsed.view == "mine"
    assert parsed.filter.statuses == ("open",)
    assert parsed.filter.teams == (4,)
    assert parsed.filter.priorities == ()
    assert parsed.filter.created_from is None
    assert parsed.filter.sort == ""
    assert {(n.key, n.value) for n in parsed.notices} == {
        ("view", "everything"),
        ("status", "lost"),
        ("priority", "asap"),
        ("team", "abc"),
        ("assignee", "someone"),
        ("sla", "late"),
        ("created_from", "yesterday"),
        ("sort", "random"),
    }


def test_deadline_and_priority_sorts_apply_to_open_work_only():
    parsed = parse_query(QueryDict("status=closed&sort=due"))
    assert parsed.filter.sort == ""
    assert parsed.filter.effective_sort == "updated"
    assert [notice.reason for notice in parsed.notices] == ["sort_needs_open_work"]

    any_status = parse_query(QueryDict("status=any&status=open"))
    assert any_status.filter.statuses == ("any",)
    assert any_status.filter.status_set == {
        "new", "open", "pending", "on_hold", "solved", "closed"
    }  # fmt: skip
    assert not any_status.filter.open_work_only


def test_huge_lists_and_long_values_are_cut_not_fatal():
    many = "&".join(f"team={number}" for number in range(1, 200))
    parsed = parse_query(QueryDict(f"{many}&tag={'x' * 500}&team=99999999999999999999999"))
    assert len(parsed.filter.teams) == 50
    assert parsed.filter.tags == ()
    assert {notice.reason for notice in parsed.notices} == {"too_many", "invalid"}


def test_a_filter_survives_the_trip_to_json_and_back_and_to_an_address():
    parsed = parse_query(
        QueryDict("view=teams&status=pending&tag=vip&assignee=none&created_from=2026-03-01")
    )
    stored = filter_to_dict(parsed.filter)
    assert stored == {
        "status": ["pending"],
        "tag": ["vip"],
        "assignee": ["none"],
        "created_from": "2026-03-01",
    }
    assert filter_from_dict(stored) == parsed.filter
    items = query_items(parsed.view, parsed.filter)
    assert items[0] == ("view", "teams")
    again = parse_query(QueryDict("&".join(f"{key}={value}" for key, value in items)))
    assert (again.view, again.filter) == (parsed.view, parsed.filter)
