"""django-allauth adapter: where the portal's account rules meet allauth's flows."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django.http import HttpRequest
from django.urls import reverse


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # Professionals register themselves (verified later by an administrator); patients get
        # their account through the activation code printed on the DMP opening letter.
        return True

    def get_login_redirect_url(self, request: HttpRequest) -> str:
        return reverse("home")
