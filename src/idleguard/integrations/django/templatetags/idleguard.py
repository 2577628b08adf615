"""``{% load idleguard %}``: ``{% idleguard_script %}`` writes the browser client's script tag."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString, mark_safe

from idleguard.integrations import script_tag

register = template.Library()


@register.simple_tag
def idleguard_script(nonce: str | None = None) -> SafeString:
    """The ``<script>`` element for the client; ``nonce`` is the page's CSP nonce, if any."""
    return mark_safe(script_tag(nonce=nonce))  # noqa: S308 - script_tag escapes what it inserts
