"""Fetch, extract, archive and link one article, synchronously: the worker's code path."""

import json

from django.core.management.base import BaseCommand, CommandError

from sanctions import coverage
from sanctions.fetching import FetchError
from sanctions.models import Action


class Command(BaseCommand):
    help = (
        "Fetch a news URL, extract and archive the article, link it to an action "
        "(--action) and print it as JSON. A refused or failed URL stores nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("url")
        parser.add_argument("--action", type=int, metavar="PK", help="Link to this action.")

    def handle(self, *args, url, action, **options):
        linked = None
        if action is not None:
            linked = Action.objects.filter(pk=action).first()
            if linked is None:
                raise CommandError(f"no action with id {action}")
        try:
            article, snapshot = coverage.fetch_article(url=url, action=linked)
        except FetchError as exc:
            raise CommandError(f"{url[:200]}: {exc.reason}") from exc
        except coverage.ExtractionFailed as exc:
            raise CommandError(f"{url[:200]}: {exc}") from exc
        coverage.suggest_links(article=article)
        data = {
            "id": article.pk,
            "url": article.url,
            "final_url": snapshot.final_url,
            "title": article.headline,
            "published_on": article.published_on.isoformat() if article.published_on else None,
            "outlet": article.outlet.name if article.outlet else None,
            "language": article.language,
            "sha256": snapshot.sha256,
            "status": snapshot.status,
        }
        self.stdout.write(json.dumps(data, ensure_ascii=False, indent=2))
