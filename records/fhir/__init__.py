"""The FHIR R4 (4.0.1, JSON) API of the DMP: resources built from the funnel's querysets,
every read and write traced naming the software (``records.trail.acting_through``).

``http`` speaks the protocol (errors as OperationOutcome, bodies, paging), ``resources`` turns
rows into FHIR resources, ``deposit`` turns FHIR resources into calls of the services,
``views`` are the endpoints. ImagingStudy lives in ``imaging.fhir`` (the layer map).
"""
