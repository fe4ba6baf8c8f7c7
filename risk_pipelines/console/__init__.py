"""The risk console: a small server-rendered web app over the warehouse (see console/app.py)."""
