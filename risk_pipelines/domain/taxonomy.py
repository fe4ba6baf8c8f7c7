"""Canonical vocabularies shared by every layer (docs/architecture.md, "Canonical schemas")."""

from __future__ import annotations

# EU DSA statement-of-reasons categories, revision 2 (from 2025-07-01), as lower-case keys
# without the STATEMENT_CATEGORY_ prefix, so figures reconcile with transparency reporting.
POLICY_CATEGORIES: tuple[str, ...] = (
    "animal_welfare",
    "consumer_information",
    "cyber_violence",
    "cyber_violence_against_women",
    "data_protection_and_privacy_violations",
    "illegal_or_harmful_speech",
    "intellectual_property_infringements",
    "negative_effects_on_civic_discourse_or_elections",
    "not_specified_notice",
    "other_violation_tc",
    "protection_of_minors",
    "risk_for_public_security",
    "scams_and_fraud",
    "self_harm",
    "unsafe_and_prohibited_products",
    "violence",
)
SURFACES: tuple[str, ...] = ("video", "live", "comment", "account", "ad", "product", "other")
DETECTION_SOURCES: tuple[str, ...] = ("automated", "user_report", "trusted_flagger", "other")
REPORT_SOURCES: tuple[str, ...] = ("user_report", "trusted_flagger")
ACTIONS: tuple[str, ...] = (
    "removed",
    "restricted",
    "labelled",
    "demoted",
    "account_suspended",
    "no_violation",
)
AUTOMATED_DECISIONS: tuple[str, ...] = ("fully", "partially", "none")
APPEAL_OUTCOMES: tuple[str, ...] = ("upheld", "overturned", "pending")
SEVERITIES: tuple[str, ...] = ("sev0", "sev1", "sev2", "sev3", "sev4")
INCIDENT_DETECTION_SOURCES: tuple[str, ...] = (
    "proactive",
    "escalation",
    "external_report",
    "press",
)

# A dimension that does not apply to a series.
ALL = "all"
