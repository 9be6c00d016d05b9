"""Service-level agreements: business calendars, policies, timers, warnings and breaches."""
