from django import template
from django.utils.html import escape
from django.utils.safestring import mark_safe

from sanctions.fetching import is_web_url
from sanctions.search import HIGHLIGHT_START, HIGHLIGHT_STOP

register = template.Library()


@register.filter
def highlight(snippet: str) -> str:
    """Escape a search snippet, then mark the words the database highlighted."""
    escaped = escape(snippet or "")
    return mark_safe(  # noqa: S308 - the text was escaped above; only <mark> is added
        escaped.replace(HIGHLIGHT_START, "<mark>").replace(HIGHLIGHT_STOP, "</mark>")
    )


@register.filter
def web_url(url: str) -> str:
    """The URL if it is an http(s) one, else "": a javascript: or data: URL that reached
    the database some other way is never rendered as a link."""
    return url if is_web_url(url) else ""
