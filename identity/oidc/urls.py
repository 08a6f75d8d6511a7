"""The URLs allauth includes for the portal's OpenID Connect provider (same names and paths
as allauth's own: ``/accounts/oidc/<provider_id>/login/`` and its callback)."""

from __future__ import annotations

from django.urls import include, path

from identity.oidc import views

urlpatterns = [
    path(
        "oidc/<str:provider_id>/",
        include(
            [
                path("login/", views.login, name="openid_connect_login"),
                path("login/callback/", views.callback, name="openid_connect_callback"),
            ]
        ),
    )
]
