"""CRM: contacts and companies, sales pipelines and deals, service tickets with SLA, activities, timeline."""
