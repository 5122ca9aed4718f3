"""What the admin tests share: operators in each role, a page's form as POST data, the messages shown."""
from __future__ import annotations

from html.parser import HTMLParser
from importlib import import_module

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.messages import get_messages
from django.http import HttpResponse

PASSWORD = "a-long-operator-password"
ROLES = import_module("accounts.migrations.0005_roles").ROLES


def role(name: str) -> Group:
    """The group the roles migration creates. Recreated from its table when a transactional test
    (live server) has flushed the migration's rows before this one ran.
    """
    group, created = Group.objects.get_or_create(name=name)
    if created:
        group.permissions.set(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
            for app_label, codename in ROLES[name]
        )
    return group


def operator(username: str, group: str | None = None, *, superuser: bool = False):
    """A staff user with a password, a superuser or a member of one role group."""
    User = get_user_model()
    make = User.objects.create_superuser if superuser else User.objects.create_user
    user = make(username=username, password=PASSWORD, **({} if superuser else {"is_staff": True}))
    if group:
        user.groups.add(role(group))
    return user


def messages_of(response: HttpResponse) -> list[str]:
    """The messages a response queued for the next page, or, once followed, the page showed."""
    if getattr(response, "context", None) is not None and "messages" in response.context:
        return [str(message) for message in response.context["messages"]]
    return [str(message) for message in get_messages(response.wsgi_request)]


def run_action(client, url: str, action: str, ids, **fields) -> list[str]:
    """Run a changelist action on the rows `ids` as the action menu does; the messages it showed."""
    data = {"action": action, "_selected_action": [str(pk) for pk in ids], "index": "0", **fields}
    response = client.post(url, data, follow=True)
    assert response.status_code == 200, response.status_code
    return messages_of(response)


class _FormParser(HTMLParser):
    def __init__(self, form_id: str | None):
        super().__init__()
        self.form_id, self.inside, self.data = form_id, False, {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and (self.form_id is None or attrs.get("id") == self.form_id):
            self.inside = attrs.get("method", "get").lower() == "post"
        if not self.inside or "name" not in attrs and tag != "option":
            return
        if tag == "input" and attrs.get("type") not in ("submit", "button", "image", "reset"):
            checkable = attrs.get("type") in ("checkbox", "radio")
            if not checkable or "checked" in attrs:
                # A browser sends "on" for a checked box without a value, "" for an empty text input.
                self.data.setdefault(attrs["name"], []).append(attrs.get("value", "on" if checkable else ""))
        elif tag == "select":
            self._select = attrs["name"]
        elif tag == "option" and self._select and "selected" in attrs:
            self.data.setdefault(self._select, []).append(attrs.get("value", ""))
        elif tag == "textarea":
            self._textarea = attrs["name"]
            self.data[self._textarea] = [""]

    def handle_data(self, data):
        if self._textarea:
            self.data[self._textarea][0] += data

    def handle_endtag(self, tag):
        if tag == "form" and self.inside:
            self.inside = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def form_data(html: str, form_id: str | None = None) -> dict[str, list[str]]:
    """The fields a browser would POST from a page's (first, or `form_id`) POST form, as rendered."""
    parser = _FormParser(form_id)
    parser.feed(html)
    return parser.data
