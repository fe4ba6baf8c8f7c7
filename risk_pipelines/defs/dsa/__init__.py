"""The EU DSA Transparency Database dumps: the dsa_statements asset, its job and the sensor that
runs a day when its dump appears."""
