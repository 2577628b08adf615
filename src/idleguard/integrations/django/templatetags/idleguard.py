"""`{% load idleguard %}`: `{% idleguard_script %}` writes the browser client's script tag."""

from __future__ import annotations

from typing import Any

from django import template
from django.conf import settings as django_settings
from django.utils.safestring import SafeString, mark_safe

from idleguard.context import SessionContext
from idleguard.endpoints import client_script_url
from idleguard.integrations import client_script_tag, script_tag

register = template.Library()


@register.simple_tag(takes_context=True)
def idleguard_script(context: Any, nonce: str | None = None) -> SafeString:
    """The `<script>` element for the client.

    Under the configured `endpoint_prefix` and the app's mount point
    (`SCRIPT_NAME`), by content hash.

    Args:
        context: The template's context (Django passes it).
        nonce: The page's Content-Security-Policy nonce, if any.

    Returns:
        The element, as safe HTML.
    """
    request = context.get("request")
    meta = getattr(request, "META", {})
    guarded = meta.get("idleguard")
    root = meta.get("SCRIPT_NAME", "") or ""
    if isinstance(guarded, SessionContext):
        tag = client_script_tag(guarded.settings, root, nonce=nonce)
    else:  # a page rendered outside a request the middleware saw
        prefix = getattr(django_settings, "IDLEGUARD", {}).get("endpoint_prefix", "/_idleguard/")
        tag = script_tag(root.rstrip("/") + client_script_url(prefix), nonce=nonce)
    return mark_safe(tag)  # noqa: S308 - the tag's parts are escaped where it is built
