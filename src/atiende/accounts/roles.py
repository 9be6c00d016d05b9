"""Staff roles and what each may do. Roles are held per brand (a BPO agent may be an agent for one
client and a supervisor for another); capabilities are what actions and queries check."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    AGENT = "agent", _("Agent")
    SUPERVISOR = "supervisor", _("Supervisor")
    QA_EVALUATOR = "qa_evaluator", _("QA evaluator")
    ADMIN = "admin", _("Administrator")
    CLIENT_VIEWER = "client_viewer", _("Client viewer")


class Capability(models.TextChoices):
    VIEW_CONVERSATIONS = "conversations.view", _("See conversations")
    VIEW_INTERNAL_NOTES = "conversations.view_internal", _("See internal notes")
    WORK_CONVERSATIONS = "conversations.work", _("Reply to and update conversations")
    ASSIGN_CONVERSATIONS = "conversations.assign", _("Assign conversations")
    VIEW_CUSTOMERS = "customers.view", _("See customers")
    EDIT_CUSTOMERS = "customers.edit", _("Create and edit customers")
    VIEW_REPORTS = "reports.view", _("See reports")
    EVALUATE_QUALITY = "quality.evaluate", _("Evaluate interactions")
    CONFIGURE_BRAND = "brand.configure", _("Configure the brand (teams, members, policies)")


_WORK = {
    Capability.VIEW_CONVERSATIONS,
    Capability.VIEW_INTERNAL_NOTES,
    Capability.WORK_CONVERSATIONS,
    Capability.ASSIGN_CONVERSATIONS,
    Capability.VIEW_CUSTOMERS,
    Capability.EDIT_CUSTOMERS,
}

ROLE_CAPABILITIES: dict[str, frozenset[str]] = {
    Role.AGENT: frozenset(_WORK),
    Role.SUPERVISOR: frozenset(_WORK | {Capability.VIEW_REPORTS}),
    Role.QA_EVALUATOR: frozenset(
        {
            Capability.VIEW_CONVERSATIONS,
            Capability.VIEW_INTERNAL_NOTES,
            Capability.VIEW_CUSTOMERS,
            Capability.VIEW_REPORTS,
            Capability.EVALUATE_QUALITY,
        }
    ),
    Role.ADMIN: frozenset(Capability.values),
    # A BPO client reads its own brand's cases and reports and changes nothing; the support
    # team's internal notes stay internal.
    Role.CLIENT_VIEWER: frozenset(
        {Capability.VIEW_CONVERSATIONS, Capability.VIEW_CUSTOMERS, Capability.VIEW_REPORTS}
    ),
}
