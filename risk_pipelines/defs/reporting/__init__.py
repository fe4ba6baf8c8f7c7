"""The daily risk brief for leadership and the job the alert sensor requests it with."""
