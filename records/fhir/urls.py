from __future__ import annotations

from django.urls import path

from records.fhir import capability, clinical, views

# Included by dmp_portal/urls.py under the "fhir" namespace, with imaging.fhir's patterns.

urlpatterns = [
    path("", views.transaction_endpoint, name="transaction"),
    path("metadata", capability.metadata, name="metadata"),
    path("Patient", views.patient_type, name="patient_type"),
    path("Patient/<str:public_id>", views.patient_instance, name="patient_instance"),
    path("Practitioner", views.practitioner_type, name="practitioner_type"),
    path("Practitioner/<str:public_id>", views.practitioner_instance, name="practitioner_instance"),
    path(
        "PractitionerRole/<str:public_id>",
        views.practitioner_role_instance,
        name="practitioner_role_instance",
    ),
    path("DocumentReference", views.document_type, name="document_type"),
    path("DocumentReference/<str:public_id>", views.document_instance, name="document_instance"),
    path("Binary/<str:public_id>", views.binary_instance, name="binary_instance"),
    path("AuditEvent", views.audit_type, name="audit_type"),
    path("DiagnosticReport", clinical.report_type, name="diagnosticreport_type"),
    path(
        "DiagnosticReport/<str:public_id>",
        clinical.report_instance,
        name="diagnosticreport_instance",
    ),
    path("Observation", clinical.observation_type, name="observation_type"),
    path("Observation/<str:public_id>", clinical.observation_instance, name="observation_instance"),
    path("AllergyIntolerance", clinical.allergy_type, name="allergyintolerance_type"),
    path(
        "AllergyIntolerance/<str:public_id>",
        clinical.allergy_instance,
        name="allergyintolerance_instance",
    ),
]
