"""Landing files of our own feed: the raw ingest assets, their quality checks, and the sensor
that runs a day when its files land."""
