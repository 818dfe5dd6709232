"""E-mail alerts: a visitor follows a filter of the action list, or an entity, and is
e-mailed the newly published actions that match it. No account: the address and the
filter are all that is kept, and a secret token in every link is the subscriber's key.

Double opt-in: ``subscribe`` records an unconfirmed subscription and the confirmation
mail goes to the address; nothing else is sent to it until its link is followed and the
button pressed (a GET never confirms: mail scanners follow links). The periodic task
``tasks.send_alert_digests`` then sends each confirmed subscription, immediately or once
a day, the matching actions published since its confirmation, each once (``send_digest``).
"""

import contextlib
import hashlib
import logging
import smtplib
from dataclasses import dataclass
from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.core import mail
from django.db import IntegrityError, transaction
from django.db.models import Exists, Max, OuterRef
from django.db.models.functions import Lower
from django.http import QueryDict
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from .feeds import describe_filters
from .filters import ActionFilter, strict_filterset
from .links import absolute_url, site_root
from .models import (
    ALERT_CONFIRM_DAYS,
    ALERT_QUERY_MAX_LENGTH,
    Action,
    AlertDelivery,
    AlertFrequency,
    DeliveryState,
    Designation,
    Entity,
    Subscription,
)

logger = logging.getLogger(__name__)

# A digest lists at most this many actions, newest first, and links to the others.
DIGEST_SIZE = 50

# The mail server answered that it would not take the message: nothing was sent.
REFUSED = (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused)


class InvalidFilter(ValueError):
    """A filter ActionFilter refuses; the message says why, for the visitor."""


@dataclass(frozen=True)
class AlertFilter:
    """A subscription's filter, cleaned by ActionFilter, and the entity it may narrow to."""

    query: str  # canonical: entity first, then ActionFilter's order, empty values left out
    filterset: ActionFilter
    entity: Entity | None = None

    def describe(self) -> str:
        """The filter in words, e.g. "actions naming Ababil Co; country: PK"."""
        filters = describe_filters(self.filterset)
        if self.entity is not None:
            naming = f"actions naming {self.entity.name}"
            return f"{naming}; {filters}" if filters else naming
        return f"actions with {filters}" if filters else "all actions"

    @property
    def list_url(self) -> str:
        """The page that lists what the filter follows."""
        if self.entity is not None:
            return self.entity.get_absolute_url()
        return reverse("action_list") + (f"?{self.query}" if self.query else "")

    def apply(self, actions):
        """The actions among ``actions`` that the filter matches."""
        if self.entity is not None:
            # As the entity's feed narrows (feeds.EntityActionFeed): ActionFilter has no
            # entity filter.
            naming = Designation.objects.filter(action=OuterRef("pk"), entity=self.entity)
            actions = actions.filter(Exists(naming))
        return self.filterset.filter_queryset(actions).distinct()


def clean_filter(query: str) -> AlertFilter:
    """The filter of an /actions/ query string, as ActionFilter cleans it; raise
    InvalidFilter for anything it refuses rather than follow a wider filter."""
    if len(query) > ALERT_QUERY_MAX_LENGTH:
        raise InvalidFilter(
            f"These filters are too long to follow: at most {ALERT_QUERY_MAX_LENGTH} characters."
        )
    data = QueryDict(query.removeprefix("?"), mutable=True)
    data.pop("page", None)  # a page of the list is not a filter of it
    entity = _entity(data.pop("entity")) if "entity" in data else None
    filterset, problems = strict_filterset(ActionFilter, data, queryset=Action.objects.published())
    if problems:
        raise InvalidFilter(
            "; ".join(
                f"{key}: {message}" for key, messages in problems.items() for message in messages
            )
        )
    params = [("entity", entity.pk)] if entity else []
    for name, value in filterset.form.cleaned_data.items():
        if value not in (None, ""):
            params.append((name, _as_param(filterset.form.fields[name], value)))
    return AlertFilter(query=urlencode(params), filterset=filterset, entity=entity)


def _as_param(field: forms.Field, value) -> str:
    """A cleaned value as the query string gives it (a slug, a code, a date, true)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(field.prepare_value(value))


def _entity(values: list[str]) -> Entity:
    """The published entity an ``entity`` parameter names; a merged one's survivor."""
    if len(values) != 1 or not (values[0].isascii() and values[0].isdecimal()):
        raise InvalidFilter("entity: give the number of one entity.")
    if len(values[0]) > 18:  # beyond PostgreSQL's bigint
        raise InvalidFilter("entity: no published entity has this number.")
    entity = Entity.objects.filter(pk=int(values[0])).first()
    for _ in range(10):  # the actions of a merged entity are its survivor's now
        if entity is None or entity.merged_into_id is None:
            break
        entity = Entity.objects.filter(pk=entity.merged_into_id).first()
    if entity is None or not Entity.objects.visible().filter(pk=entity.pk).exists():
        raise InvalidFilter("entity: no published entity has this number.")
    return entity


def described(query: str) -> dict:
    """What pages and mails show of a stored filter: in words and its list's URL, or why
    it no longer works (an authority or entity since withdrawn)."""
    try:
        alert_filter = clean_filter(query)
    except InvalidFilter as exc:
        return {"description": "", "list_url": "", "filter_error": str(exc)}
    return {
        "description": alert_filter.describe(),
        "list_url": alert_filter.list_url,
        "filter_error": "",
    }


class AddressForm(forms.Form):
    email = forms.EmailField(label="Your e-mail address", max_length=254)

    def clean_email(self):
        local, _, domain = self.cleaned_data["email"].rpartition("@")
        return f"{local}@{domain.lower()}"


class SubscribeForm(AddressForm):
    frequency = forms.ChoiceField(
        label="How often",
        choices=AlertFrequency.choices,
        initial=AlertFrequency.DAILY,
    )
    query = forms.CharField(required=False, strip=True, widget=forms.HiddenInput)

    def clean_query(self):
        try:
            return clean_filter(self.cleaned_data["query"]).query
        except InvalidFilter as exc:
            raise forms.ValidationError(str(exc)) from None


def subscriptions_of(email: str):
    """An address's subscriptions, whatever the case of its letters."""
    return Subscription.objects.alias(address=Lower("email")).filter(address=email.lower())


def subscribe(*, email: str, query: str, frequency: str) -> Subscription:
    """The address's subscription to a clean filter: a new, unconfirmed one, or the one it
    has (an unconfirmed one takes the frequency asked for last). The caller queues the
    confirmation mail (``send_confirmation``)."""
    subscription = subscriptions_of(email).filter(query=query).first()
    if subscription is None:
        try:
            with transaction.atomic():
                return Subscription.objects.create(email=email, query=query, frequency=frequency)
        except IntegrityError:  # the same form sent twice at once
            subscription = subscriptions_of(email).get(query=query)
    if not subscription.is_confirmed and subscription.frequency != frequency:
        subscription.frequency = frequency
        subscription.save(update_fields=["frequency"])
    return subscription


def delete_expired_subscriptions() -> int:
    """Delete the subscriptions not confirmed within ALERT_CONFIRM_DAYS."""
    deleted, _ = Subscription.objects.expired().delete()
    return deleted


def _message(*, subject: str, template: str, context: dict, to: str, headers=None):
    context = {"site_name": settings.SITE_NAME, **context}
    return mail.EmailMessage(
        subject=" ".join(subject.split())[:200],  # one line: a header
        body=render_to_string(template, context),
        to=[to],
        headers={"Auto-Submitted": "auto-generated", **(headers or {})},
    )


def send_confirmation(*, subscription_id: int) -> bool:
    """Mail the link that confirms a subscription or, to an address that has confirmed
    it already, the link to see and delete it.

    The mail holds only the site's own words and links, nothing the form's sender wrote
    (the filter is shown on the confirmation page): the form cannot make the site carry
    someone's text to an address. A redelivered task mails it twice, which is harmless.
    """
    subscription = Subscription.objects.filter(pk=subscription_id).first()
    if subscription is None:
        return False
    if subscription.is_confirmed:
        subject = f"{settings.SITE_NAME}: you already have this alert"
        template = "sanctions/alerts/email/already.txt"
    else:
        subject = f"{settings.SITE_NAME}: confirm your e-mail alert"
        template = "sanctions/alerts/email/confirm.txt"
    context = {
        "confirm_url": absolute_url(reverse("alert_confirm", args=[subscription.token])),
        "manage_url": absolute_url(subscription.get_absolute_url()),
        "days": ALERT_CONFIRM_DAYS,
    }
    message = _message(subject=subject, template=template, context=context, to=subscription.email)
    return bool(message.send())


def send_subscription_list(*, email: str) -> int:
    """Mail an address the links to each of its confirmed subscriptions; an address with
    none is sent nothing (the page that asked says the same either way)."""
    subscriptions = list(subscriptions_of(email).confirmed().order_by("created_at", "pk"))
    if not subscriptions:
        return 0
    items = [
        {
            **described(subscription.query),
            "frequency": subscription.get_frequency_display(),
            "manage_url": absolute_url(subscription.get_absolute_url()),
        }
        for subscription in subscriptions
    ]
    message = _message(
        subject=f"{settings.SITE_NAME}: your e-mail alerts",
        template="sanctions/alerts/email/subscriptions.txt",
        context={"subscriptions": items},
        to=subscriptions[0].email,
    )
    message.send()
    return len(subscriptions)


def due_subscriptions(frequency: str) -> list[int]:
    """Confirmed subscriptions of a frequency that may have news: an action was
    published after they started."""
    latest = Action.objects.published().aggregate(latest=Max("published_at"))["latest"]
    if latest is None:
        return []
    subscriptions = Subscription.objects.confirmed().filter(frequency=frequency, since__lt=latest)
    return list(subscriptions.order_by("pk").values_list("pk", flat=True))


def mark_lost_deliveries(*, stale_before) -> int:
    """Mark "unknown" the claims of digests whose sender died while sending them."""
    lost = AlertDelivery.objects.filter(
        state=DeliveryState.CLAIMED, claimed_at__lt=stale_before
    ).update(state=DeliveryState.UNKNOWN)
    if lost:
        logger.warning(
            "%d alert deliveries were being sent by a worker that died: maybe sent, not sent again",
            lost,
        )
    return lost


def send_digest(*, subscription_id: int) -> int:
    """Send a confirmed subscription its new matching actions in one e-mail; return how
    many. An action is told to a subscription at most once, even when the worker dies.

    The protocol: under a lock on the subscription, the published actions matching its
    filter (ActionFilter over ``Action.objects.published()``), published after ``since``
    and without a delivery row, get one, "claimed" (unique per subscription and action),
    and the message is built; that transaction commits before anything is sent. Then the
    message is handed to the e-mail backend, and the rows are marked "sent".

    Rows are never offered again, whatever their state: a redelivered or concurrent task
    finds nothing new. A failure known to have sent nothing (no connection to the mail
    server, or the server refused the message) deletes the claims, so the next run sends
    them. Any other failure mid-send (the worker killed, the time limit, a dropped
    connection) leaves the claims; once older than the task's hard time limit, when no
    sender can still be at work, ``mark_lost_deliveries`` marks them "unknown".

    The trade-off: when a worker dies during the SMTP exchange nobody knows whether the
    mail left, and the tracker chooses at most once over at least once: such a subscriber
    may miss an alert (logged; the list page and its feed still show the action) but is
    never mailed one twice. Resending under the same Message-ID would leave deduplication
    to mail systems, which mostly do not. The window is the SMTP exchange alone.

    ``since`` stays at the moment of confirmation rather than advancing with each digest:
    an action published (``published_at`` set) in a transaction that commits after a
    digest's query would otherwise fall between two digests.
    """
    with transaction.atomic():
        subscription = (
            Subscription.objects.confirmed().select_for_update().filter(pk=subscription_id).first()
        )
        if subscription is None:
            return 0  # deleted or unsubscribed since it was queued
        try:
            alert_filter = clean_filter(subscription.query)
        except InvalidFilter as exc:
            logger.warning("alert subscription %d not sent: %s", subscription.pk, exc)
            return 0
        told = AlertDelivery.objects.filter(subscription=subscription, action=OuterRef("pk"))
        new = Action.objects.published().filter(published_at__gt=subscription.since)
        actions = list(
            alert_filter.apply(new.exclude(Exists(told)))
            .select_related("authority")
            .order_by("-announced_on", "-pk")
        )
        if not actions:
            return 0
        AlertDelivery.objects.bulk_create(
            AlertDelivery(subscription=subscription, action=action) for action in actions
        )
        message = digest_message(subscription, alert_filter, actions)
    claimed = AlertDelivery.objects.filter(
        subscription=subscription, action__in=[a.pk for a in actions], state=DeliveryState.CLAIMED
    )
    connection = mail.get_connection()
    try:
        connection.open()
    except Exception:
        claimed.delete()  # not connected: nothing left
        raise
    try:
        sent = connection.send_messages([message])
    except REFUSED:
        claimed.delete()
        raise
    finally:
        with contextlib.suppress(Exception):  # a failed goodbye does not unsend the mail
            connection.close()
    if not sent:
        claimed.delete()
        return 0
    claimed.update(state=DeliveryState.SENT, sent_at=timezone.now())
    return len(actions)


def digest_message(subscription, alert_filter: AlertFilter, actions) -> mail.EmailMessage:
    """The digest: each action's title, date, authority and link; RFC 8058 one-click
    unsubscribe headers; a Message-ID that names the subscription and its actions."""
    description = alert_filter.describe()
    unsubscribe_url = absolute_url(reverse("alert_unsubscribe", args=[subscription.token]))
    count = len(actions)
    ids = ",".join(str(action.pk) for action in sorted(actions, key=lambda a: a.pk))
    digest = hashlib.sha256(ids.encode()).hexdigest()[:16]
    domain = urlsplit(site_root()).hostname or "localhost"
    return _message(
        subject=f"{settings.SITE_NAME}: {count} new action{'s' if count != 1 else ''}"
        f" — {description}",
        template="sanctions/alerts/email/digest.txt",
        context={
            "description": description,
            "actions": [
                (action, absolute_url(action.get_absolute_url()))
                for action in actions[:DIGEST_SIZE]
            ],
            "more": max(count - DIGEST_SIZE, 0),
            "list_url": absolute_url(alert_filter.list_url),
            "manage_url": absolute_url(subscription.get_absolute_url()),
            "unsubscribe_url": unsubscribe_url,
            "frequency": subscription.get_frequency_display().lower(),
        },
        to=subscription.email,
        headers={
            "List-Unsubscribe": f"<{unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Message-ID": f"<alert-{subscription.pk}-{digest}@{domain}>",
        },
    )
