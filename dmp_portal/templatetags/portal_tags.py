"""Tags of the site's frame (``templates/base.html``)."""

from __future__ import annotations

from typing import Any

from django import template
from django.template.loader import get_template
from django.urls import get_script_prefix, get_urlconf
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

register = template.Library()

# The main navigation by language, URL configuration and role: ``_nav.html`` reads nothing else
# (nine reversed URLs and as many labels translated on every page before).
_navs_seen: dict[tuple[Any, ...], str] = {}


@register.simple_tag(takes_context=True)
def site_nav(context: template.Context) -> SafeString:
    """``_nav.html`` for the context's ``nav_role``: the same markup, rendered once per
    language and role."""
    role = context.get("nav_role")
    key = (get_language(), get_script_prefix(), get_urlconf(), role)
    html = _navs_seen.get(key)
    if html is None:
        html = get_template("_nav.html").render({"nav_role": role})
        if len(_navs_seen) >= 64:  # a few roles × languages; bounded all the same
            _navs_seen.clear()
        _navs_seen[key] = html
    return mark_safe(html)  # noqa: S308 - rendered by the template engine, escaped there


@register.simple_tag
def language_options() -> SafeString:
    """The language switcher's ``<option>`` list (``_language_options.html``), rendered once
    per language (kept with the navigations)."""
    key = ("languages", get_language())
    html = _navs_seen.get(key)
    if html is None:
        html = get_template("_language_options.html").render({})
        if len(_navs_seen) >= 64:
            _navs_seen.clear()
        _navs_seen[key] = html
    return mark_safe(html)  # noqa: S308 - rendered by the template engine, escaped there
