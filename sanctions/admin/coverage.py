"""News coverage: articles and their archived snapshots, and the pipeline that fills
them in (sanctions/coverage.py): fetch jobs, suggested links, link checks."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator

from .. import coverage, tasks
from ..fetching import FetchRefused, canonical_url
from ..models import (
    Action,
    ActionStatus,
    Article,
    Coverage,
    FetchJob,
    FetchStatus,
    LinkCheck,
    Snapshot,
    Suggestion,
    SuggestionStatus,
)
from .common import (
    ReadOnly,
    ReadOnlyAdmin,
    ReviewedAdmin,
    ReviewedInline,
    TrackedAdmin,
    admin_page,
    may_publish,
)

# Failed URLs listed on an action's form, each with what the editor can do about it.
MAX_FAILED_SHOWN = 20


class SnapshotInline(ReadOnly, admin.TabularInline):
    model = Snapshot
    fields = ["fetched_at", "status", "final_url", "content_type", "size", "sha256", "download"]
    readonly_fields = fields
    extra = 0

    @admin.display(description="archived copy")
    def download(self, obj):
        return format_html("<a href='{}' download>download</a>", obj.get_absolute_url())


class ArticleCoverageInline(ReviewedInline, admin.TabularInline):
    model = Coverage
    autocomplete_fields = ["action"]
    extra = 0

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # Linking an article to a published action changes that action's page.
        if db_field.name == "action" and not may_publish(request):
            kwargs["queryset"] = Action.objects.filter(status=ActionStatus.DRAFT)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Article)
class ArticleAdmin(ReviewedAdmin, TrackedAdmin):
    list_display = ["headline", "outlet", "published_on", "language"]
    list_filter = ["outlet", "language", "published_on", "is_copy", "headline_from_url"]
    search_fields = ["headline", "url", "outlet__name"]
    date_hierarchy = "published_on"
    autocomplete_fields = ["outlet", "entities"]
    list_select_related = ["outlet"]
    readonly_fields = [
        "final_url",
        "link_checked_at",
        "link_failures",
        "link_dead_since",
        "created_at",
        "updated_at",
    ]
    inlines = [ArticleCoverageInline, SnapshotInline]

    def get_urls(self):
        upload = self.admin_site.admin_view(self.upload_view)
        return [
            path("upload/", upload, name="sanctions_article_upload"),
            *super().get_urls(),
        ]

    def upload_view(self, request):
        """Archive and extract a page the editor saved (HTML or PDF), as if fetched from
        its URL: for pages the server could not fetch (paywalls, blocks, PDFs)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        job = None
        if job_id := request.GET.get("job"):
            job = get_object_or_404(FetchJob.objects.select_related("action"), pk=job_id)
        initial = {"url": job.url, "action": job.action_id} if job else {}
        form = UploadForm(request.POST or None, request.FILES or None, initial=initial)
        if form.is_valid():
            action, url = form.cleaned_data["action"], form.cleaned_data["url"]
            public = (action is not None and action.is_published) or Article.objects.filter(
                url=url, pk__in=Article.objects.public()
            ).exists()
            if public and not may_publish(request):
                raise PermissionDenied("Only reviewers change what the public sees.")
            try:
                article, snapshot = coverage.store_upload(
                    data=form.cleaned_data["file"].read(), url=url, action=action, job=job
                )
            except coverage.ExtractionFailed as exc:
                form.add_error("file", str(exc))
            else:
                tasks.suggest_links.delay_on_commit(article.pk)
                self.message_user(
                    request,
                    f"Archived the uploaded copy (SHA-256 {snapshot.sha256}) as “{article}”.",
                    messages.SUCCESS,
                )
                return redirect("admin:sanctions_article_change", article.pk)
        return admin_page(
            self,
            request,
            "admin/sanctions/article/upload.html",
            title="Upload a saved copy of an article",
            form=form,
            job=job,
        )


class UploadForm(forms.Form):
    url = forms.URLField(
        max_length=2048,
        assume_scheme="https",
        label="The article's URL",
        help_text="Where the page is published; it is not fetched, only recorded.",
    )
    file = forms.FileField(
        label="Saved page",
        help_text="The page saved from the browser (HTML, “Web page, HTML only”) or a PDF.",
    )
    action = forms.ModelChoiceField(
        queryset=Action.objects.all(),
        required=False,
        label="Link it to the action",
        widget=AutocompleteSelect(Coverage._meta.get_field("action"), admin.site),
    )

    def clean_url(self):
        try:
            return canonical_url(self.cleaned_data["url"])
        except FetchRefused as exc:
            raise ValidationError(coverage.in_words(exc)) from exc

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.FETCH_MAX_BYTES:
            raise ValidationError(f"The file is larger than {settings.FETCH_MAX_BYTES} bytes.")
        return upload


class PasteForm(forms.Form):
    urls = forms.CharField(
        label="Paste URLs (one per line)",
        widget=forms.Textarea(attrs={"rows": 12, "cols": 100, "spellcheck": "false"}),
        help_text="News or source URLs. Each is fetched in the background, archived and "
        "linked to this action; a URL pasted before is not fetched twice.",
    )


def pasted_urls_summary(action: Action) -> str:
    """Where the URLs pasted on an action stand, with links to them and to paste more."""
    if action.pk is None:
        return "Save the action first, then paste the URLs of its news coverage."
    paste = format_html(
        "<a href='{}'>Paste coverage URLs</a>",
        reverse("admin:sanctions_fetchjob_paste", args=[action.pk]),
    )
    counts = dict(action.fetch_jobs.order_by().values_list("status").annotate(n=Count("pk")))
    if not counts:
        return format_html("None pasted yet. {}", paste)
    summary = format_html(
        "<a href='{}?action={}'>{}</a> · {}",
        reverse("admin:sanctions_fetchjob_changelist"),
        action.pk,
        ", ".join(f"{counts[s]} {s.label.lower()}" for s in FetchStatus if s in counts),
        paste,
    )
    failed = action.fetch_jobs.filter(status=FetchStatus.FAILED).order_by("pk")[:MAX_FAILED_SHOWN]
    if not failed:
        return summary
    return format_html(
        "{}<ul>{}</ul>",
        summary,
        format_html_join(
            "",
            "<li><code>{}</code>: {}. {} · <a href='{}'>upload a saved copy</a></li>",
            (
                (
                    Truncator(job.url).chars(100),
                    job.reason,
                    format_html(
                        "<a href='{}'>complete the article by hand</a>",
                        reverse("admin:sanctions_article_change", args=[job.article_id]),
                    )
                    if job.article_id
                    else "",
                    reverse("admin:sanctions_article_upload") + f"?job={job.pk}",
                )
                for job in failed
            ),
        ),
    )


@admin.register(FetchJob)
class FetchJobAdmin(ReadOnlyAdmin):
    list_display = ["short_url", "status", "short_reason", "attempts", "article", "action"]
    list_filter = ["status", "created_at"]
    search_fields = ["url", "normalized_url", "reason"]
    list_select_related = ["article", "action__authority"]
    date_hierarchy = "created_at"
    actions = ["retry_failed"]

    def get_urls(self):
        paste = self.admin_site.admin_view(self.paste_view)
        return [
            path("paste/<int:action_id>/", paste, name="sanctions_fetchjob_paste"),
            *super().get_urls(),
        ]

    @admin.display(ordering="url", description="URL")
    def short_url(self, obj):
        return Truncator(obj.url).chars(80)

    @admin.display(description="reason")
    def short_reason(self, obj):
        return Truncator(obj.reason).chars(100)

    def has_paste_permission(self, request):
        return request.user.has_perm("sanctions.add_fetchjob")

    @admin.action(permissions=["paste"], description="Fetch the selected failed URLs again")
    def retry_failed(self, request, queryset):
        failed = queryset.filter(status=FetchStatus.FAILED)
        if not may_publish(request):
            # Coverage of a published action is the reviewers' to add.
            failed = failed.exclude(action__status=ActionStatus.PUBLISHED)
        jobs = [job for job in failed if job.requeue()]
        for job in jobs:
            tasks.fetch_and_extract.delay_on_commit(job.pk)
        self.message_user(request, f"Queued {len(jobs)} URL(s) again.", messages.SUCCESS)

    def paste_view(self, request, action_id):
        """Queue the pasted URLs; invalid lines come back with their reasons, to be fixed."""
        action = get_object_or_404(Action, pk=action_id)
        if not self.has_paste_permission(request):
            raise PermissionDenied
        if action.is_published and not may_publish(request):
            raise PermissionDenied("Only reviewers add coverage to a published action.")
        form = PasteForm(request.POST or None)
        errors = []
        if form.is_valid():
            with transaction.atomic():
                result = coverage.queue_urls(
                    lines=form.cleaned_data["urls"].splitlines(), action=action
                )
                for job in result.queued:
                    tasks.fetch_and_extract.delay_on_commit(job.pk)
            if result.queued:
                self.message_user(
                    request, f"Queued {len(result.queued)} URL(s) to fetch.", messages.SUCCESS
                )
            if result.existing:
                self.message_user(
                    request,
                    f"{len(result.existing)} URL(s) were pasted before and are queued or done.",
                    messages.INFO,
                )
            if not result.errors:
                return redirect("admin:sanctions_action_change", action.pk)
            errors = result.errors
            form = PasteForm(initial={"urls": "\n".join(line for _, line, _ in errors)})
        return admin_page(
            self,
            request,
            "admin/sanctions/fetchjob/paste.html",
            title="Paste coverage URLs",
            subtitle=str(action),
            action=action,
            form=form,
            errors=errors,
            jobs=action.fetch_jobs.select_related("article")[:50],
        )


@admin.register(Suggestion)
class SuggestionAdmin(ReadOnlyAdmin):
    list_display = ["article", "target", "matched_name", "status", "created_at"]
    list_filter = [
        "status",
        ("entity", admin.EmptyFieldListFilter),
        ("action", admin.EmptyFieldListFilter),
    ]
    search_fields = ["matched_name", "article__headline", "entity__name", "action__title"]
    list_select_related = ["article", "entity", "action__authority"]
    actions = ["accept", "dismiss"]

    @admin.display(description="suggested link")
    def target(self, obj):
        if obj.entity_id:
            url = reverse("admin:sanctions_entity_change", args=[obj.entity_id])
            return format_html("Entity: <a href='{}'>{}</a>", url, obj.entity)
        url = reverse("admin:sanctions_action_change", args=[obj.action_id])
        return format_html("Action: <a href='{}'>{}</a>", url, obj.action)

    def has_decide_permission(self, request):
        return request.user.has_perm("sanctions.change_suggestion")

    @admin.action(permissions=["decide"], description="Accept: make the suggested links")
    def accept(self, request, queryset):
        pending = queryset.filter(status=SuggestionStatus.PENDING).select_related("article")
        if not may_publish(request):
            # A link to a published action, or a mention in a public article, is public.
            held = pending.filter(
                Q(action__status=ActionStatus.PUBLISHED) | Q(article__in=Article.objects.public())
            )
            if held_count := held.count():
                self.message_user(
                    request,
                    f"{held_count} suggestion(s) change what the public sees: a reviewer"
                    " accepts those.",
                    messages.WARNING,
                )
            pending = pending.exclude(pk__in=held.values("pk"))
        accepted = sum(suggestion.accept() for suggestion in pending)
        self.message_user(request, f"Accepted {accepted} suggestion(s).", messages.SUCCESS)

    @admin.action(permissions=["decide"], description="Dismiss: never suggest these again")
    def dismiss(self, request, queryset):
        pending = queryset.filter(status=SuggestionStatus.PENDING)
        dismissed = sum(suggestion.dismiss() for suggestion in pending)
        self.message_user(request, f"Dismissed {dismissed} suggestion(s).", messages.SUCCESS)


@admin.register(LinkCheck)
class LinkCheckAdmin(ReadOnlyAdmin):
    list_display = ["checked_at", "url", "ok", "status", "reason"]
    list_filter = ["ok", "checked_at"]
    search_fields = ["url", "reason"]
    date_hierarchy = "checked_at"
