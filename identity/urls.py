from __future__ import annotations

from django.urls import path

from identity import access_views, views

app_name = "identity"

urlpatterns = [
    path("pro/dmp/ouvrir/", views.dmp_open, name="dmp_open"),
    path("pro/dmp/rechercher/", views.patient_search, name="patient_search"),
    path("pro/dmp/rouvrir/", views.dmp_reopen_by_professional, name="dmp_reopen_by_professional"),
    path("pro/dmp/attester/", access_views.attest_consent, name="attest_consent"),
    path("pro/dmp/urgence/", access_views.emergency, name="emergency"),
    path("pro/dmp/<uuid:public_id>/", views.patient_home, name="patient_home"),
    path("pro/dmp/<uuid:public_id>/courrier/", views.letter_reissue, name="letter_reissue"),
    path("activation/", views.activation, name="activation"),
    path("activation/compte/", views.activation_account, name="activation_account"),
    path("activation/termine/", views.activation_done, name="activation_done"),
    path("mon-dmp/code-email/", views.email_code_login, name="email_code_login"),
    path("mon-dmp/", views.my_dmp, name="my_dmp"),
    path("mon-dmp/parametres/", views.my_settings, name="my_settings"),
    path("mon-dmp/fermer/", views.my_dmp_close, name="my_dmp_close"),
    path("mon-dmp/acces/", access_views.my_access, name="my_access"),
    path("mon-dmp/acces/modifier/", access_views.my_access_change, name="my_access_change"),
    path("mon-dmp/historique/", access_views.my_history, name="my_history"),
    path("mon-dmp/historique.csv", access_views.my_history_csv, name="my_history_csv"),
    path("mon-dmp/rouvrir/", views.my_dmp_reopen, name="my_dmp_reopen"),
]
