"""Alembic migrations of the store (``env.py``, revisions under ``versions/``)."""
