"""Words staff see for stored values (priorities, statuses, channels, kinds, clock states).

Templates show them with `_(labels.status[value])`, so the ids are extracted from here and translated in
the catalogs. Brand names (WhatsApp, LINE, ...) are not translated.
"""

from __future__ import annotations

from niaga.web.i18n import N_

PRIORITY = {"low": N_("Low"), "normal": N_("Normal"), "high": N_("High"), "urgent": N_("Urgent")}
STATUS = {"new": N_("New"), "open": N_("Open"), "pending": N_("Pending"), "resolved": N_("Resolved"),
          "closed": N_("Closed")}
# What a button that moves a ticket to a status says.
STATUS_ACTION = {"open": N_("Mark as open"), "pending": N_("Waiting on the customer"), "resolved": N_("Resolve"),
                 "closed": N_("Close")}
REOPEN = N_("Reopen")
CHANNEL = {"manual": N_("Entered by staff"), "email": N_("Email"), "whatsapp": "WhatsApp", "instagram": "Instagram",
           "telegram": "Telegram", "line": "LINE", "webchat": N_("Web chat"), "phone": N_("Phone call")}
KIND = {"note": N_("Note"), "call": N_("Call"), "meeting": N_("Meeting"), "task": N_("Task")}
CLOCK = {"response": N_("First response"), "resolution": N_("Resolution")}
CLOCK_STATE = {"none": N_("No target"), "running": N_("Running"), "paused": N_("Paused"), "met": N_("Met"),
               "breached": N_("Breached")}
WEEKDAY = (N_("Monday"), N_("Tuesday"), N_("Wednesday"), N_("Thursday"), N_("Friday"), N_("Saturday"),
           N_("Sunday"))
COMMENT_KIND = {"reply": N_("Reply to the customer"), "note": N_("Internal note"),
                "customer": N_("Message from the customer")}


def all_labels() -> dict[str, object]:
    """Every family, for templates."""
    return {"priority": PRIORITY, "status": STATUS, "status_action": STATUS_ACTION, "reopen": REOPEN,
            "channel": CHANNEL, "kind": KIND, "clock": CLOCK, "clock_state": CLOCK_STATE, "weekday": WEEKDAY,
            "comment_kind": COMMENT_KIND}
