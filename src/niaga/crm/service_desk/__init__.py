"""CRM service desk: tickets with SLA clocks in business hours, activities (notes, calls, meetings, tasks)."""

from niaga.crm.service_desk import hooks as _hooks

_hooks.install()
