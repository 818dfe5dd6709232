"""E-mail alerts: subscriptions to filtered lists of actions and their deliveries."""

import datetime
import secrets

from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone

from .actions import Action

ALERT_QUERY_MAX_LENGTH = 1000
# Unconfirmed subscriptions are deleted after this many days.
ALERT_CONFIRM_DAYS = 7


class AlertFrequency(models.TextChoices):
    """How often a subscriber hears of new actions."""

    IMMEDIATE = "immediate", "As soon as published"  # looked for every five minutes
    DAILY = "daily", "Once a day"


def new_alert_token() -> str:
    return secrets.token_urlsafe(32)


class SubscriptionQuerySet(models.QuerySet):
    def confirmed(self):
        """Subscriptions whose address said yes; only these are ever sent a digest."""
        return self.filter(confirmed_at__isnull=False)

    def expired(self):
        """Unconfirmed subscriptions older than ALERT_CONFIRM_DAYS."""
        cutoff = timezone.now() - datetime.timedelta(days=ALERT_CONFIRM_DAYS)
        return self.filter(confirmed_at__isnull=True, created_at__lt=cutoff)


class Subscription(models.Model):
    """An e-mail address following the published actions that match one filter.

    Only the address and the filter are kept. The token in every link sent to the
    address is the subscriber's only key: there is no account.
    """

    email = models.EmailField()
    query = models.CharField(
        max_length=ALERT_QUERY_MAX_LENGTH,
        blank=True,
        help_text="The action list's filters as a canonical query string (alerts.clean_filter);"
        " entity=<id> narrows it to the actions naming that entity.",
    )
    frequency = models.CharField(max_length=10, choices=AlertFrequency.choices)
    token = models.CharField(max_length=64, unique=True, default=new_alert_token, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    confirmed_at = models.DateTimeField(null=True, blank=True, editable=False)
    since = models.DateTimeField(
        default=timezone.now,
        editable=False,
        help_text="Actions published after this moment count: the confirmation's.",
    )

    objects = SubscriptionQuerySet.as_manager()

    class Meta:
        constraints = [
            # One subscription per address and filter; the index also serves the lookup
            # of an address's subscriptions (alerts.subscriptions_of: lower(email)).
            models.UniqueConstraint(
                Lower("email"), "query", name="subscription_unique_address_filter"
            ),
            models.CheckConstraint(
                condition=Q(frequency__in=AlertFrequency.values),
                name="subscription_frequency_valid",
            ),
        ]
        indexes = [
            # The digest runs: the confirmed subscriptions of one frequency.
            models.Index(
                fields=["frequency", "since"],
                condition=Q(confirmed_at__isnull=False),
                name="subscription_confirmed_idx",
            ),
            # The periodic purge of unconfirmed subscriptions, oldest first.
            models.Index(
                fields=["created_at"],
                condition=Q(confirmed_at__isnull=True),
                name="subscription_unconfirmed_idx",
            ),
        ]

    def __str__(self):
        return f"{self.email}: {self.query or 'all actions'} ({self.frequency})"

    def get_absolute_url(self):
        return reverse("alert_manage", args=[self.token])

    @property
    def is_confirmed(self) -> bool:
        return self.confirmed_at is not None

    def confirm(self) -> bool:
        """Start sending: actions published from now on count. False if already confirmed."""
        now = timezone.now()
        updated = Subscription.objects.filter(pk=self.pk, confirmed_at__isnull=True).update(
            confirmed_at=now, since=now
        )
        if updated:
            self.confirmed_at = self.since = now
        return bool(updated)


class DeliveryState(models.TextChoices):
    """Where the e-mail telling a subscriber of an action stands (alerts.send_digest)."""

    CLAIMED = "claimed", "Claimed"  # written just before the digest is handed over
    SENT = "sent", "Sent"  # the mail server (or backend) took the digest
    UNKNOWN = "unknown", "Unknown"  # its sender died while sending; never sent again


class AlertDelivery(models.Model):
    """One action told, once, to one subscription: the row is what makes it once."""

    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    action = models.ForeignKey(Action, on_delete=models.CASCADE, related_name="+")
    state = models.CharField(
        max_length=10, choices=DeliveryState.choices, default=DeliveryState.CLAIMED
    )
    claimed_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # Its index also serves the digest's "not yet told" (NOT EXISTS) lookup.
            models.UniqueConstraint(fields=["subscription", "action"], name="alertdelivery_once"),
            models.CheckConstraint(
                condition=Q(state__in=DeliveryState.values), name="alertdelivery_state_valid"
            ),
            models.CheckConstraint(
                condition=(Q(state=DeliveryState.SENT) & Q(sent_at__isnull=False))
                | (~Q(state=DeliveryState.SENT) & Q(sent_at__isnull=True)),
                name="alertdelivery_sent_has_time",
            ),
        ]
        indexes = [
            # Claims left behind by a dead worker, found by age (alerts.mark_lost_deliveries).
            models.Index(
                fields=["claimed_at"],
                condition=Q(state="claimed"),
                name="alertdelivery_claimed_idx",
            ),
        ]

    def __str__(self):
        return f"{self.action_id} → subscription {self.subscription_id}: {self.state}"
