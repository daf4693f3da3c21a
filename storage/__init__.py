"""The only door to the database: models, engine and sessions, and repository functions that never commit."""
