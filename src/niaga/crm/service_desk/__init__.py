"""CRM service_desk."""
