"""The evidence pack (증빙 자료): one request's record for the regulator or a court, as a ZIP
that proves its own integrity against the access record."""
