"""Writes on the DMP, one module per subject: ``lifecycle`` (open, activate, close, reopen),
``purge`` (erase a closed DMP once its retention has passed), ``care`` (care relations,
emergency access, reads and notifications), ``entries`` (deposit, mask, announce, release),
``content`` (reports, lab reports, allergies)."""
