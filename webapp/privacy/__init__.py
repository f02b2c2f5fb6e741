"""Personal-information rights: a copy of what is held (and, to come, deletion and consents)."""
