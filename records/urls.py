from __future__ import annotations

from django.urls import path

from records.views import (
    access,
    applications,
    cda,
    deposits,
    dmp,
    documents,
    exports,
    family,
    notices,
    profile,
    structure,
)

app_name = "records"

_PRO = "pro/dmp/<uuid:public_id>/"

urlpatterns = [
    # The professional's side: opening, finding, reopening, consent, emergency.
    path("pro/dmp/ouvrir/", dmp.dmp_open, name="dmp_open"),
    path("pro/dmp/rechercher/", dmp.patient_search, name="patient_search"),
    path("pro/dmp/rouvrir/", dmp.dmp_reopen_by_professional, name="dmp_reopen_by_professional"),
    path("pro/dmp/attester/", access.attest_consent, name="attest_consent"),
    path("pro/dmp/urgence/", access.emergency, name="emergency"),
    path("pro/structure/", structure.structure_choose, name="structure_choose"),
    path(_PRO, dmp.patient_home, name="patient_home"),
    path(f"{_PRO}courrier/", dmp.letter_reissue, name="letter_reissue"),
    path(f"{_PRO}telecharger/", exports.export_pro, name="export_pro"),
    path(f"{_PRO}documents/", documents.timeline_pro, name="timeline_pro"),
    path(f"{_PRO}biologie/nouveau/", deposits.lab_report_new, name="lab_report_new"),
    path(f"{_PRO}biologie/tendance/<str:analyte_code>/", documents.trend_pro, name="trend_pro"),
    path(f"{_PRO}comptes-rendus/nouveau/", deposits.report_new, name="report_new"),
    path(f"{_PRO}allergies/nouveau/", deposits.allergy_new, name="allergy_new"),
    path(f"{_PRO}allergies/carte/", documents.allergy_card_pro, name="allergy_card_pro"),
    path(f"{_PRO}profil/problemes/nouveau/", profile.problem_new, name="problem_new"),
    path(f"{_PRO}profil/traitements/nouveau/", profile.treatment_new, name="treatment_new"),
    path(f"{_PRO}profil/vaccinations/nouveau/", profile.vaccination_new, name="vaccination_new"),
    path(f"{_PRO}profil/mesures/nouveau/", profile.measure_new, name="measure_new"),
    path(f"{_PRO}profil/mesures/<str:measure>/", profile.measure_trend_pro, name="measure_pro"),
    # The patient's side: activation, their DMP, settings, access, history.
    path("activation/", dmp.activation, name="activation"),
    path("activation/compte/", dmp.activation_account, name="activation_account"),
    path("activation/termine/", dmp.activation_done, name="activation_done"),
    path("mon-dmp/", dmp.my_dmp, name="my_dmp"),
    path("mon-dmp/famille/", family.family_home, name="family"),
    path("mon-dmp/famille/choisir/", family.family_choose, name="family_choose"),
    path("mon-dmp/famille/procuration/", family.proxy_grant, name="proxy_grant"),
    path("mon-dmp/famille/<uuid:mandate_id>/fin/", family.mandate_end, name="mandate_end"),
    path("mon-dmp/majorite/", family.majority_review, name="majority_review"),
    path(f"{_PRO}representants/", family.representatives, name="representatives"),
    path("mon-dmp/parametres/", dmp.my_settings, name="my_settings"),
    path("mon-dmp/fermer/", dmp.my_dmp_close, name="my_dmp_close"),
    path("mon-dmp/rouvrir/", dmp.my_dmp_reopen, name="my_dmp_reopen"),
    path("mon-dmp/acces/", access.my_access, name="my_access"),
    path("mon-dmp/acces/modifier/", access.my_access_change, name="my_access_change"),
    path("mon-dmp/historique/", access.my_history, name="my_history"),
    path("mon-dmp/historique.csv", access.my_history_csv, name="my_history_csv"),
    path(
        "mon-dmp/historique/<uuid:event_id>/preuve.json",
        access.my_history_proof,
        name="my_history_proof",
    ),
    path("verifier-preuve.py", access.proof_checker, name="proof_checker"),
    path("mon-dmp/telecharger/", exports.my_export, name="my_export"),
    # "Télécharger mon DMP": an archive's progress and its one download, for whoever asked.
    path("archive/<uuid:export_id>/", exports.export_status, name="export_status"),
    path("archive/<uuid:export_id>/dmp.zip", exports.export_download, name="export_download"),
    path("mon-dmp/notifications/", notices.my_notifications, name="my_notifications"),
    path(
        "mon-dmp/notifications/<uuid:notification_id>/",
        notices.notification_open,
        name="notification_open",
    ),
    path("mon-dmp/documents/", documents.timeline_patient, name="timeline_patient"),
    path("mon-dmp/allergies/carte/", documents.allergy_card_patient, name="allergy_card_patient"),
    path(
        "mon-dmp/biologie/tendance/<str:analyte_code>/",
        documents.trend_patient,
        name="trend_patient",
    ),
    path("mon-dmp/mesures/nouveau/", profile.my_measure_new, name="my_measure_new"),
    path("mon-dmp/mesures/<str:measure>/", profile.measure_trend_patient, name="measure_patient"),
    path("mon-dmp/vaccinations/", profile.my_vaccinations, name="my_vaccinations"),
    path("mon-dmp/volontes/", profile.my_wishes, name="my_wishes"),
    path("mon-dmp/mes-documents/", profile.my_documents, name="my_documents"),
    # The software a user authorised for the FHIR API (professionals and patients alike).
    path("mon-compte/applications/", applications.my_applications, name="my_applications"),
    # One entry, whoever reads it.
    path("document/<uuid:entry_id>/", documents.entry_detail, name="entry_detail"),
    path("document/<uuid:entry_id>/pdf/", documents.report_pdf, name="report_pdf"),
    path("document/<uuid:entry_id>/cda/", cda.entry_cda, name="entry_cda"),
    path(_PRO + "cda/nouveau/", cda.cda_new, name="cda_new"),
    path("document/<uuid:entry_id>/masquer/", documents.entry_mask, name="entry_mask"),
    path("document/<uuid:entry_id>/annoncer/", documents.entry_announce, name="entry_announce"),
    path("document/<uuid:entry_id>/verifier/", profile.entry_verify, name="entry_verify"),
    path(
        "document/<uuid:entry_id>/fichier/",
        profile.patient_document_file,
        name="patient_document_file",
    ),
    path(
        "document/<uuid:entry_id>/supprimer/",
        profile.patient_document_delete,
        name="patient_document_delete",
    ),
    path(
        "document/<uuid:entry_id>/nouvelle-version/",
        deposits.entry_new_version,
        name="entry_new_version",
    ),
]
