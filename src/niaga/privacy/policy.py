"""The published privacy policy's versions (policies.md D1-D3)."""

from __future__ import annotations

# The version staff accept at sign-up and invitation; bumped when the policy text changes.
CURRENT_POLICY_VERSION = "2026-11-21"
