"""How many working-time additions per second the business calendar does (SL1 target: 100,000).

    .venv/bin/python bench/sla_calendar.py [--operations 200000] [--runs 5]

A Madrid office calendar (two intervals a day, regional public holidays, a shorter Christmas Eve,
a break) answers ``add`` for starts spread over two years and amounts from a minute to eight
weeks of working time, forwards and backwards, from Madrid-time and UTC instants. Prints the
median of the runs and the machine.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from machine import summary

from atiende.sla.calendar import BusinessCalendar, public_holidays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--operations", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    options = parser.parse_args()

    madrid = ZoneInfo("Europe/Madrid")
    office = {
        day: [("09:00", "14:00"), ("15:00", "18:00")] for day in ("mon", "tue", "wed", "thu", "fri")
    }
    calendar = BusinessCalendar(
        madrid,
        office,
        date_hours={
            date(2026, 12, 24): [("09:00", "13:00")],
            date(2027, 12, 24): [("09:00", "13:00")],
        },
        breaks={date(2027, 3, 1): [("11:00", "11:30")]},
        closed_dates=public_holidays("ES", "MD"),
    )
    rng = random.Random(42)
    origin = datetime(2026, 1, 1, tzinfo=madrid)
    work = []
    for index in range(options.operations):
        start = origin + timedelta(minutes=rng.randrange(2 * 365 * 24 * 60))
        if index % 2:
            start = start.astimezone(UTC)
        amount = timedelta(
            minutes=rng.choice((1, 30, 240, 480, 2400, 19200)) * rng.choice((1, 1, 1, -1))
        )
        work.append((start, amount))
    calendar.add(origin, timedelta(days=1000))  # lay out the years once, outside the timing
    add = calendar.add
    rates = []
    for _ in range(options.runs):
        started = time.perf_counter()
        for start, amount in work:
            add(start, amount)
        rates.append(options.operations / (time.perf_counter() - started))
    result = {
        "operations": options.operations,
        "runs": options.runs,
        "median_ops_per_second": round(statistics.median(rates)),
        "all_runs": [round(rate) for rate in rates],
        "machine": summary(),
    }
    if options.json:
        print(json.dumps(result))
    else:
        print(
            f"calendar.add: {result['median_ops_per_second']:,} operations/s (median of {options.runs} runs of {options.operations:,})"
        )
        print(f"runs: {', '.join(f'{rate:,}' for rate in result['all_runs'])}")
        print(f"machine: {result['machine']}")


if __name__ == "__main__":
    main()
