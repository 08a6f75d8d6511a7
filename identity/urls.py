from __future__ import annotations

from django.urls import path

from identity import views

app_name = "identity"

urlpatterns = [
    path("mon-dmp/code-email/", views.email_code_login, name="email_code_login"),
    path("compte/administration/", views.my_account_events, name="my_account_events"),
]
