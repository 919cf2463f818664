"""Cards or a table: how a person likes to see a dataset's samples, remembered in their
session (so per user and browser, with no schema of its own)."""

from django.http import HttpRequest

CARDS, TABLE = "cards", "table"
SESSION_KEY = "datasets_sample_view"


def sample_view(request: HttpRequest) -> str:
    """The view asked for (`?view=table` or `?view=cards`, then remembered), else the
    remembered one, else cards."""
    asked = request.GET.get("view", "")
    if asked in (CARDS, TABLE):
        if request.session.get(SESSION_KEY, CARDS) != asked:
            request.session[SESSION_KEY] = asked
        return asked
    remembered = request.session.get(SESSION_KEY, CARDS)
    return remembered if remembered in (CARDS, TABLE) else CARDS
