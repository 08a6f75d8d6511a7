"""Forms of the DMP: ``dmp`` (opening, search, activation, settings, access, emergency, history)
and ``content`` (reports, lab reports, allergies)."""
