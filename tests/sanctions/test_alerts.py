"""E-mail alerts through HTTP and the Celery tasks, run in-process with the locmem e-mail
backend (a real worker killed mid-send: test_alerts_worker)."""

import datetime
import email.policy
import re
import smtplib

import pytest
from django.core.cache import cache
from django.core.mail.backends import locmem
from django.template.loader import render_to_string
from django.test import Client
from django.utils import timezone

from sanctions import tasks
from sanctions.models import AlertDelivery, DeliveryState, Subscription
from sanctions.throttling import AlertAddressThrottle, AlertThrottle
from tests.sanctions.factories import make_action, make_authority, make_entity

pytestmark = pytest.mark.django_db

SITE = "https://tracker.example"


@pytest.fixture(autouse=True)
def _site(settings):
    settings.SITE_ROOT = SITE
    cache.clear()  # rate-limit counts
    yield
    cache.clear()


@pytest.fixture
def run_queued(django_capture_on_commit_callbacks):
    """Runs the tasks a request queued after commit, as the worker would."""

    def run(callbacks):
        return [callback.func.__self__.apply(args=callback.args).get() for callback in callbacks]

    return run


@pytest.fixture
def run_digests(monkeypatch):
    """The periodic task of one frequency, then each digest task it queued."""
    queued = []
    monkeypatch.setattr(tasks.send_alert_digest, "delay", queued.append)

    def run(frequency):
        queued.clear()
        tasks.send_alert_digests.apply(args=[frequency]).get()
        return [tasks.send_alert_digest.apply(args=[pk]).get() for pk in queued]

    return run


def subscribe(client, capture, run_queued, *, remote_addr="127.0.0.1", **data):
    """Post the subscription form, then run the task it queued (the confirmation mail)."""
    data = {"email": "reader@example.org", "frequency": "immediate", "query": ""} | data
    with capture() as callbacks:
        response = client.post("/alerts/subscribe/", data, REMOTE_ADDR=remote_addr)
    run_queued(callbacks)
    return response


def link(message, kind: str) -> str:
    """The path of the one link of a kind (confirm, unsubscribe, ...) in a mail's body."""
    (path,) = re.findall(rf"{re.escape(SITE)}(/alerts/{kind}[\w-]+/)", message.body)
    return path


def confirmed_subscription(**fields) -> Subscription:
    defaults = {"email": "reader@example.org", "frequency": "immediate", "query": ""}
    subscription = Subscription.objects.create(**(defaults | fields))
    subscription.confirm()
    return subscription


def test_a_visitor_confirms_by_mail_and_gets_one_digest_of_the_matching_action(
    client, mailoutbox, django_capture_on_commit_callbacks, run_queued, run_digests
):
    followed, other = make_authority(name="Department of State"), make_authority()
    make_action(title="Before the alert", authority=followed)  # the filter offers it
    response = subscribe(
        client,
        django_capture_on_commit_callbacks,
        run_queued,
        query=f"authority={followed.slug}&page=3",
    )
    assert response.status_code == 200 and "Check your inbox" in response.content.decode()
    (confirmation,) = mailoutbox
    assert confirmation.to == ["reader@example.org"]
    confirm_path = link(confirmation, "confirm/")
    assert followed.slug not in confirmation.body  # only the site's words go to the address

    page = client.get(confirm_path).content.decode()
    assert "Confirm and start the alerts" in page and "authority: Department of State" in page
    assert not Subscription.objects.get().is_confirmed
    confirmed = client.post(confirm_path).content.decode()
    assert "Confirmed" in confirmed
    subscription = Subscription.objects.get()
    assert subscription.is_confirmed and subscription.query == f"authority={followed.slug}"

    matching = make_action(title="State designates four suppliers", authority=followed)
    make_action(title="Someone else's action", authority=other)
    assert run_digests("daily") == []
    assert run_digests("immediate") == [1]

    digest = mailoutbox[1]
    assert digest.to == ["reader@example.org"]
    assert "State designates four suppliers" in digest.subject + digest.body
    assert "Someone else" not in digest.body and "Before the alert" not in digest.body
    assert f"{SITE}/actions/{matching.pk}/" in digest.body
    assert "1 January 2024 · Department of State" in digest.body
    assert f"{SITE}/actions/?authority={followed.slug}" in digest.body
    unsubscribe = f"{SITE}/alerts/unsubscribe/{subscription.token}/"
    assert digest.extra_headers["List-Unsubscribe"] == f"<{unsubscribe}>"
    assert digest.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    sent = email.message_from_bytes(digest.message().as_bytes(), policy=email.policy.default)
    assert sent["List-Unsubscribe"].strip() == f"<{unsubscribe}>"  # folded: a long line
    assert sent["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    # Nothing new: nothing sent; every action is told once.
    assert run_digests("immediate") == [0]
    assert len(mailoutbox) == 2
    (delivery,) = AlertDelivery.objects.all()
    assert (delivery.action, delivery.state) == (matching, DeliveryState.SENT)


def test_actions_published_before_confirmation_are_not_sent(mailoutbox, run_digests):
    make_action(title="Old news")
    confirmed_subscription()
    assert run_digests("immediate") == []
    draft = make_action(title="Published later", published=False)
    draft.publish()

    assert run_digests("immediate") == [1]
    assert "Published later" in mailoutbox[0].body and "Old news" not in mailoutbox[0].body


def test_a_daily_subscription_waits_for_the_daily_run(mailoutbox, run_digests):
    daily = confirmed_subscription(frequency="daily")
    confirmed_subscription(email="other@example.org", frequency="immediate", query="kind=waiver")
    make_action(title="A designation")

    assert run_digests("immediate") == [0]  # the immediate one: no waiver
    assert mailoutbox == []
    assert run_digests("daily") == [1]
    assert mailoutbox[0].to == [daily.email]


def test_an_entity_subscription_follows_the_actions_naming_it_and_its_survivor(
    client, mailoutbox, django_capture_on_commit_callbacks, run_queued, run_digests
):
    entity = make_entity(name="Ababil Manufacturing Co")
    make_action(entities=[entity])
    button = render_to_string("includes/alert_form.html", {"alert_entity": entity})
    assert "naming this entity" in button and "csrf" not in button  # cacheable pages
    (query,) = re.findall(r'name="query" value="([^"]*)"', button)
    page = client.get("/alerts/subscribe/", {"query": query}).content.decode()
    assert "actions naming Ababil Manufacturing Co" in page and "csrfmiddlewaretoken" in page

    subscribe(client, django_capture_on_commit_callbacks, run_queued, query=query)
    client.post(link(mailoutbox[0], "confirm/"))
    named = make_action(title="Second designation of Ababil", entities=[entity])
    make_action(title="Another supplier", entities=[make_entity()])

    assert run_digests("immediate") == [1]
    assert "Second designation of Ababil" in mailoutbox[1].body
    assert "Another supplier" not in mailoutbox[1].body
    assert "actions naming Ababil Manufacturing Co" in mailoutbox[1].body
    assert f"{SITE}{entity.get_absolute_url()}" in mailoutbox[1].body
    assert named.pk in AlertDelivery.objects.values_list("action", flat=True)


def test_the_one_click_post_unsubscribes_without_a_csrf_token_and_the_other_forms_need_one(
    mailoutbox, run_digests
):
    subscription = confirmed_subscription()
    make_action()
    run_digests("immediate")
    unsubscribe = link(mailoutbox[0], "unsubscribe/")
    browser = Client(enforce_csrf_checks=True)

    assert browser.post(subscription.get_absolute_url()).status_code == 403
    assert browser.post("/alerts/subscribe/", {"email": "a@example.org"}).status_code == 403
    assert browser.post("/alerts/", {"email": "a@example.org"}).status_code == 403
    assert Subscription.objects.exists()

    one_click = ("List-Unsubscribe=One-Click", "application/x-www-form-urlencoded")
    response = browser.post(unsubscribe, *one_click)
    assert response.status_code == 200 and "Unsubscribed" in response.content.decode()
    assert not Subscription.objects.exists() and not AlertDelivery.objects.exists()
    assert browser.post(unsubscribe, *one_click).status_code == 200  # a repeat is no error
    assert browser.get(unsubscribe).status_code == 404


def test_following_the_confirm_manage_and_unsubscribe_links_changes_nothing(client):
    unconfirmed = Subscription.objects.create(
        email="reader@example.org", frequency="daily", query="country=PK"
    )
    confirmed = confirmed_subscription(email="other@example.org")

    for path in (
        f"/alerts/confirm/{unconfirmed.token}/",
        f"/alerts/unsubscribe/{unconfirmed.token}/",
        f"/alerts/{unconfirmed.token}/",
        f"/alerts/unsubscribe/{confirmed.token}/",
        f"/alerts/{confirmed.token}/",
    ):
        assert client.get(path).status_code == 200, path
        assert client.head(path).status_code == 200, path
        response = client.get(path)
        assert "no-store" in response["Cache-Control"], path
        assert '<meta name="robots" content="noindex">' in response.content.decode()

    assert Subscription.objects.count() == 2
    assert not Subscription.objects.get(pk=unconfirmed.pk).is_confirmed
    assert client.get("/alerts/confirm/not-a-token/").status_code == 404


def test_the_subscriber_sees_the_filter_in_words_and_can_delete_it(client):
    authority = make_authority(name="Department of State")
    make_action(authority=authority)
    subscription = confirmed_subscription(query=f"authority={authority.slug}&country=PK")

    page = client.get(subscription.get_absolute_url()).content.decode()
    assert "Actions with authority: Department of State; country: PK" in page
    assert f'href="/actions/?authority={authority.slug}&amp;country=PK"' in page
    assert "reader@example.org" in page

    response = client.post(subscription.get_absolute_url())
    assert response.status_code == 200 and "Unsubscribed" in response.content.decode()
    assert not Subscription.objects.exists()
    assert client.get(subscription.get_absolute_url()).status_code == 404


def test_subscribing_again_changes_nothing_but_mails_the_link_to_the_alert(
    client, mailoutbox, django_capture_on_commit_callbacks, run_queued
):
    subscription = confirmed_subscription(email="Reader@Example.org", query="country=PK")

    subscribe(client, django_capture_on_commit_callbacks, run_queued, query="country=pk")

    assert Subscription.objects.count() == 1
    assert link(mailoutbox[0], "") == subscription.get_absolute_url()
    assert "already" in mailoutbox[0].body


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("country=Pakistan", "two-letter ISO 3166-1 country code"),
        ("authority=no-such-authority", "Select a valid choice"),
        ("colour=blue", "colour: Not a filter"),
        ("kind=designation&kind=delisting", "kind: Given 2 times"),
        ("entity=999999", "no published entity"),
        ("entity=1e3", "the number of one entity"),
        ("q=" + "x" * 1000, "at most 1000 characters"),
    ],
)
def test_a_filter_actionfilter_refuses_is_refused_with_the_reason(
    client, django_capture_on_commit_callbacks, run_queued, query, reason
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            "/alerts/subscribe/",
            {"email": "reader@example.org", "frequency": "daily", "query": query},
        )

    assert response.status_code == 400
    assert reason in response.content.decode()
    assert callbacks == [] and not Subscription.objects.exists()


def test_an_invalid_address_is_refused(client):
    response = client.post(
        "/alerts/subscribe/", {"email": "not an address", "frequency": "daily", "query": ""}
    )
    assert response.status_code == 400 and "valid email address" in response.content.decode()
    assert not Subscription.objects.exists()


def test_what_a_visitor_wrote_is_escaped(client):
    page = client.get("/alerts/subscribe/", {"query": "q=<script>alert(1)</script>"})
    text = page.content.decode()
    assert "<script>alert" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_subscribing_is_rate_limited_per_client_and_per_address(
    client, monkeypatch, django_capture_on_commit_callbacks, run_queued, mailoutbox
):
    monkeypatch.setattr(AlertThrottle, "rate", "3/hour", raising=False)
    monkeypatch.setattr(AlertAddressThrottle, "rate", "2/day", raising=False)

    def post(email, address, query=""):
        data = {"email": email, "frequency": "daily", "query": query}
        return subscribe(
            client, django_capture_on_commit_callbacks, run_queued, remote_addr=address, **data
        )

    kinds = ("designation", "delisting", "waiver")
    statuses = [post("one@example.org", "10.0.0.1", f"kind={kind}").status_code for kind in kinds]
    limited = post("two@example.org", "10.0.0.1")
    assert statuses == [200, 200, 429]  # the address: twice a day, whoever asks
    assert limited.status_code == 429 and int(limited["Retry-After"]) > 0  # the client
    assert post("two@example.org", "10.0.0.2").status_code == 200
    assert post("ONE@example.org", "10.0.0.3").status_code == 429
    assert len(mailoutbox) == 3


def test_mailing_ones_alerts_answers_the_same_for_any_address(
    client, mailoutbox, django_capture_on_commit_callbacks, run_queued
):
    subscription = confirmed_subscription(query="country=PK")
    Subscription.objects.create(email="reader@example.org", frequency="daily", query="kind=waiver")

    with django_capture_on_commit_callbacks() as known_callbacks:
        known = client.post("/alerts/", {"email": "READER@example.org"})
    with django_capture_on_commit_callbacks() as unknown_callbacks:
        unknown = client.post("/alerts/", {"email": "stranger@example.org"})

    assert known.status_code == unknown.status_code == 200
    assert known.content == unknown.content
    assert run_queued(known_callbacks) == [1] and run_queued(unknown_callbacks) == [0]
    (message,) = mailoutbox
    assert message.to == ["reader@example.org"]
    assert f"{SITE}{subscription.get_absolute_url()}" in message.body
    assert "Actions with country: PK" in message.body
    assert "waiver" not in message.body  # not confirmed: not the address's yet


def test_mailing_ones_alerts_is_rate_limited(client, monkeypatch):
    monkeypatch.setattr(AlertAddressThrottle, "rate", "1/day", raising=False)
    first = client.post("/alerts/", {"email": "reader@example.org"})
    second = client.post("/alerts/", {"email": "reader@example.org"}, REMOTE_ADDR="10.0.0.9")
    assert (first.status_code, second.status_code) == (200, 429)


def test_unconfirmed_subscriptions_are_deleted_after_a_week(run_digests):
    old = timezone.now() - datetime.timedelta(days=8)
    Subscription.objects.create(email="a@example.org", frequency="daily", created_at=old)
    recent = Subscription.objects.create(email="b@example.org", frequency="daily")
    confirmed = confirmed_subscription(created_at=old)

    run_digests("daily")

    assert set(Subscription.objects.all()) == {recent, confirmed}


def test_a_claim_left_by_a_dead_sender_is_marked_unknown_and_never_sent_again(
    mailoutbox, run_digests
):
    subscription = confirmed_subscription()
    lost, new = make_action(title="Lost in the crash"), make_action(title="After the crash")
    long_ago = timezone.now() - datetime.timedelta(hours=1)
    AlertDelivery.objects.create(subscription=subscription, action=lost, claimed_at=long_ago)

    assert run_digests("immediate") == [1]

    assert "After the crash" in mailoutbox[0].body and "Lost in" not in mailoutbox[0].body
    states = dict(AlertDelivery.objects.values_list("action", "state"))
    assert states == {lost.pk: DeliveryState.UNKNOWN, new.pk: DeliveryState.SENT}


class RefusingBackend(locmem.EmailBackend):
    """A mail server that refuses the recipient."""

    def send_messages(self, messages):
        raise smtplib.SMTPRecipientsRefused({"reader@example.org": (550, b"No such user")})


def test_a_digest_the_mail_server_refused_is_sent_by_the_next_run(
    settings, mailoutbox, run_digests
):
    confirmed_subscription()
    make_action(title="Refused once")
    settings.EMAIL_BACKEND = "tests.sanctions.test_alerts.RefusingBackend"

    with pytest.raises(smtplib.SMTPRecipientsRefused):
        run_digests("immediate")
    assert not AlertDelivery.objects.exists()

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert run_digests("immediate") == [1]
    assert "Refused once" in mailoutbox[0].body
