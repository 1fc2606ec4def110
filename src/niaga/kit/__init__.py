"""Small shared helpers without business rules."""
