"""Database plumbing: engine, sessions, declarative base, migrations."""
