import datetime

from django import template
from django.utils import timezone
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe

from sanctions.fetching import is_web_url
from sanctions.search import HIGHLIGHT_START, HIGHLIGHT_STOP

register = template.Library()

# The site is in English: the month names are written here, not translated per date.
_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


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


@register.filter
def day(value: datetime.date | datetime.datetime | None) -> str:
    """A day as the pages show it: <time datetime="2024-12-18">18 Dec 2024</time>; a
    datetime by its day in the site's time zone, as the date filter gives it. Written
    out because the date filter reads its format and each month's name through the
    translation machinery: an entity's 240 dates took a fifth of its page."""
    if not value:
        return ""
    if isinstance(value, datetime.datetime):
        value = timezone.localtime(value).date()
    return format_html(
        '<time datetime="{}">{} {} {}</time>',
        value.isoformat(),
        value.day,
        _MONTHS[value.month - 1],
        value.year,
    )
