"""The sales service: the only module other domains import (DESIGN.md "Layout").

Pipelines and stages live in `pipelines`, deals and lines in `deals`, the kanban board and forecast in
`reports`, form choices in `choices`; this module gathers their public functions in one place and
registers the contact-timeline source.
"""

from __future__ import annotations

from niaga.crm.sales import timeline_source
from niaga.crm.sales.choices import (
    Related, company_choices, contact_choices, contact_name, find_contact, related, staff_choices, team_choices,
)
from niaga.crm.sales.deals import (
    EDITABLE, add_line, create_deal, delete_deal, delete_line, get_deal, get_line, list_deals, lose_deal,
    move_deal, reopen_deal, update_deal, update_line, win_deal,
)
from niaga.crm.sales.models import DEAL_STATUSES, MAX_RUPIAH, STAGE_KINDS, Deal, DealLine, Pipeline, Stage
from niaga.crm.sales.pipelines import (
    DEFAULT_STAGES, add_stage, create_pipeline, delete_pipeline, delete_stage, ensure_default_pipeline,
    first_stage, get_pipeline, get_stage, list_pipelines, move_stage, reorder_stages, update_pipeline,
    update_stage,
)
from niaga.crm.sales.reports import Column, Forecast, board, forecast

timeline_source.register()

try:
    from niaga.crm.contacts.merge import register_contact_reference
except ModuleNotFoundError as missing:  # a build without contact merging: nothing to register with
    if missing.name != "niaga.crm.contacts.merge":
        raise
else:
    # When two contacts merge, their deals follow the kept contact (merge re-seals them under its key).
    register_contact_reference(Deal, "contact_id")

__all__ = [
    "Column", "DEAL_STATUSES", "DEFAULT_STAGES", "Deal", "DealLine", "EDITABLE", "Forecast", "MAX_RUPIAH",
    "Pipeline", "Related", "STAGE_KINDS", "Stage", "add_line", "add_stage", "board", "company_choices",
    "contact_choices", "contact_name", "create_deal", "create_pipeline", "delete_deal", "delete_line", "delete_pipeline",
    "delete_stage", "ensure_default_pipeline", "find_contact", "first_stage", "forecast", "get_deal", "get_line",
    "get_pipeline", "get_stage", "list_deals", "list_pipelines", "lose_deal", "move_deal", "move_stage",
    "related", "reopen_deal", "reorder_stages", "staff_choices", "team_choices", "update_deal", "update_line",
    "update_pipeline", "update_stage", "win_deal",
]
