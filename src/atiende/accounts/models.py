"""Staff users, their per-brand roles, teams and skills."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from atiende.accounts.roles import Role
from atiende.brands.models import Brand
from atiende.core.events import EventRecord


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields: Any) -> User:
        if not email:
            raise ValueError("A user needs an email address")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields: Any) -> User:
        fields.setdefault("is_staff", True)
        fields.setdefault("is_superuser", True)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A staff member who signs in: agent, supervisor, evaluator, admin or client viewer."""

    email = models.EmailField(_("email"), unique=True)
    full_name = models.CharField(_("full name"), max_length=150)
    # Empty means "follow the browser" (Accept-Language).
    language = models.CharField(
        _("language"),
        max_length=8,
        blank=True,
        choices=[("es", _("Spanish")), ("en", _("English"))],
    )
    # Empty means UTC; dates are shown in this zone.
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True)
    is_staff = models.BooleanField(
        _("administration site"),
        default=False,
        help_text=_("May open the administration site (limited to their brands)."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    date_joined = models.DateTimeField(_("joined"), default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["full_name"]

    class Meta:
        verbose_name = _("staff user")
        verbose_name_plural = _("staff users")
        ordering = ["full_name", "email"]

    def __str__(self) -> str:
        return self.full_name or self.email

    def get_full_name(self) -> str:
        return self.full_name

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email


class BrandMembership(models.Model):
    """A user's role in one brand. No membership, no access."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=32, choices=Role.choices, default=Role.AGENT)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("brand membership")
        verbose_name_plural = _("brand memberships")
        constraints = [
            models.UniqueConstraint(fields=["user", "brand"], name="one_role_per_user_and_brand")
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.brand} · {self.get_role_display()}"


class Team(models.Model):
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="teams")
    name = models.CharField(_("name"), max_length=120)
    members = models.ManyToManyField(
        User, through="TeamMembership", related_name="teams", blank=True
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["brand", "name"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "name"], name="team_name_unique_per_brand")
        ]

    def __str__(self) -> str:
        return self.name


class TeamMembership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="team_memberships")
    is_lead = models.BooleanField(_("team lead"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("team membership")
        verbose_name_plural = _("team memberships")
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="one_membership_per_team")
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.team}"


class SkillKind(models.TextChoices):
    LANGUAGE = "language", _("Language")
    PRODUCT = "product", _("Product")
    CHANNEL = "channel", _("Channel")


class Skill(models.Model):
    """Something routing can match an agent on: a language, a product, a channel (RT1)."""

    # Empty brand: the skill is shared by every brand (languages, channels).
    brand = models.ForeignKey(
        Brand, on_delete=models.PROTECT, null=True, blank=True, related_name="skills"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=SkillKind.choices)
    code = models.SlugField(_("code"), max_length=50)
    name = models.CharField(_("name"), max_length=120)

    class Meta:
        verbose_name = _("skill")
        verbose_name_plural = _("skills")
        ordering = ["kind", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["brand", "kind", "code"], name="skill_code_unique_per_brand"
            ),
            models.UniqueConstraint(
                fields=["kind", "code"],
                condition=models.Q(brand__isnull=True),
                name="shared_skill_code_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.name}"


class AgentSkill(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="skills")
    skill = models.ForeignKey(Skill, on_delete=models.CASCADE, related_name="agents")
    # 1 (basic) to 5 (expert); routing prefers higher levels.
    level = models.PositiveSmallIntegerField(_("level"), default=3)

    class Meta:
        verbose_name = _("agent skill")
        verbose_name_plural = _("agent skills")
        constraints = [
            models.UniqueConstraint(fields=["user", "skill"], name="one_level_per_agent_skill"),
            models.CheckConstraint(
                condition=models.Q(level__gte=1, level__lte=5), name="skill_level_1_to_5"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.skill} ({self.level})"


class AccountEvent(EventRecord):
    """History of staff accounts and teams: created, roles granted and revoked, teams joined, skills set."""

    user = models.ForeignKey(
        User, on_delete=models.CASCADE, null=True, blank=True, related_name="account_events"
    )
    team = models.ForeignKey(
        Team, on_delete=models.CASCADE, null=True, blank=True, related_name="events"
    )
    brand = models.ForeignKey(
        Brand, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta(EventRecord.Meta):
        verbose_name = _("account event")
        verbose_name_plural = _("account events")
