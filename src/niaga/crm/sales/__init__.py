"""CRM sales."""
