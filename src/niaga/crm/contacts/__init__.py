"""CRM contacts."""
