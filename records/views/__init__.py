"""The DMP's pages: ``dmp`` (opening, finding a patient, activation, the patient's DMP and
settings), ``access`` (who sees what, history, attested consent, emergency), ``documents``
(timeline, entries, allergy card, trends), ``deposits`` (the professionals' deposit forms)."""
