from django import template
from django.utils.html import escape
from django.utils.safestring import mark_safe

from sanctions.search import HIGHLIGHT_START, HIGHLIGHT_STOP

register = template.Library()


@register.filter
def highlight(snippet: str) -> str:
    """Escape a search snippet, then mark the words the database highlighted."""
    escaped = escape(snippet or "")
    return mark_safe(  # noqa: S308 - the text was escaped above; only <mark> is added
        escaped.replace(HIGHLIGHT_START, "<mark>").replace(HIGHLIGHT_STOP, "</mark>")
    )
