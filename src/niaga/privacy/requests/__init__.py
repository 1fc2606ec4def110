"""Data-subject requests: the public privacy center, verification by one-time code, the staff queue."""
