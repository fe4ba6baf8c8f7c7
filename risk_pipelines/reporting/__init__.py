"""Reports for people: the daily risk brief and its rendering."""
