from __future__ import annotations

from django.urls import path

from records.fhir import views

app_name = "fhir"

urlpatterns = [
    path("", views.transaction_endpoint, name="transaction"),
    path("metadata", views.metadata, name="metadata"),
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
]
