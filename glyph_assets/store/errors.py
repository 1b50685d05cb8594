"""The store's failures, named for what they mean to a caller.

They are SQLAlchemy's own exception classes (the store raises nothing else for a database
fault); the names let the API catch them without importing SQLAlchemy itself.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

# Any failure of a database operation.
StoreError = SQLAlchemyError
# The database could not be reached or could not serve the statement (down, locked, out of
# connections): the caller may try again later.
DatabaseUnavailable = OperationalError
# A write broke a unique constraint: another writer recorded the same thing first.
Conflict = IntegrityError

__all__ = ["Conflict", "DatabaseUnavailable", "StoreError"]
