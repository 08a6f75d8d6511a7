"""The provider's URLs: django-oauth-toolkit's under /o/, and a test door to sign in as a
person whose claims the test chooses (a CPS card reader stand-in)."""

from __future__ import annotations

import json

from django.contrib.auth import login
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from tests.oidc_provider.validator import PROFILES


@csrf_exempt
def login_as(request: HttpRequest) -> HttpResponse:
    profile = json.loads(request.body)
    user, _created = User.objects.get_or_create(username=profile["username"])
    PROFILES[user.username] = profile
    login(request, user)
    return HttpResponse(status=204)


urlpatterns = [
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    path("login-as/", login_as),
]
