"""Writes and traced reads of the imaging app, one module per subject: ``imports`` (storing
validated files as Study → Series → Instance, attaching a report), ``upload`` (the upload
workflow behind the page), ``reads`` (traced reads of studies, images and files)."""
