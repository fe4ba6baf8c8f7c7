"""How a DSA statement of reasons maps onto the canonical moderation-decision schema.

Every mapping is a table over the dump's enum keys, applied to the distinct values of a batch
(a day holds a few hundred distinct combinations among hundreds of millions of rows), so the
cost per row is one dictionary lookup done by Arrow.

Policy category, taxonomy v1 (until 2025-06-30) -> v2 (from 2025-07-01). The ten categories
present in both keep their key. The four that ended map as follows; the mapping is lossy and
deliberate, so v1 days and v2 days add up to the same series:

| v1 category                       | canonical (v2)                 | why                        |
|-----------------------------------|--------------------------------|----------------------------|
| NON_CONSENSUAL_BEHAVIOUR          | cyber_violence                 | v2 files non-consensual    |
|                                   |                                | sharing and stalking there |
| PORNOGRAPHY_OR_SEXUALIZED_CONTENT | other_violation_tc             | no adult-content category  |
|                                   |                                | in v2: a T&C matter        |
| SCOPE_OF_PLATFORM_SERVICE         | other_violation_tc             | outside the service's      |
|                                   |                                | scope: a T&C violation     |
| UNSAFE_AND_ILLEGAL_PRODUCTS       | unsafe_and_prohibited_products | renamed and widened in v2  |

Other fields:
- detection_source <- source_type + automated_detection: a trusted flagger's notice is
  ``trusted_flagger``; an Article 16 notice is ``user_report``; another kind of notification is
  ``other``; the platform's own initiative is ``automated`` when automated_detection is Yes,
  else ``other``.
- action <- the most severe decision given: an account suspended or terminated, or the service
  totally suspended or terminated -> ``account_suspended``; content removed or disabled ->
  ``removed``; a partial suspension of the service, a monetary restriction, age or interaction
  restriction or another visibility restriction -> ``restricted``; demoted -> ``demoted``;
  labelled -> ``labelled``.
- surface <- content_type: ``video`` when it lists a video, else ``product`` for a product,
  else ``other`` (the DSA's image, text, audio, app and synthetic-media types have no surface of
  their own in our schema).
- region <- territorial_scope: the country when the statement applies to exactly one; ``EEA``
  when it lists exactly the 30 EEA countries (most statements do), ``EU`` exactly the 27 member
  states, ``MULTI`` any other several; ``ZZ`` (unknown) when the field is empty or absent (the
  light dumps drop it). Per-country counts expand every list (``dsa_country_counts``).
- automated_decision <- AUTOMATED_DECISION_FULLY / _PARTIALLY / _NOT_AUTOMATED -> fully /
  partially / none.
"""

from __future__ import annotations

import datetime as dt
import json

CATEGORY_PREFIX = "STATEMENT_CATEGORY_"
V1_TO_V2 = {
    "non_consensual_behaviour": "cyber_violence",
    "pornography_or_sexualized_content": "other_violation_tc",
    "scope_of_platform_service": "other_violation_tc",
    "unsafe_and_illegal_products": "unsafe_and_prohibited_products",
}
# The day the v2 taxonomy began. A v1 category after it, or a v2-only one before it, is still
# counted (mapped as above) but with a named warning: a platform that did not switch, or a
# dump that was re-dated, is worth a look, not a lost statement.
TAXONOMY_V2_FROM = dt.date(2025, 7, 1)
V2_ONLY = frozenset({
    "consumer_information", "cyber_violence", "cyber_violence_against_women",
    "not_specified_notice", "other_violation_tc", "unsafe_and_prohibited_products",
})  # fmt: skip
AUTOMATED_DECISIONS = {
    "AUTOMATED_DECISION_FULLY": "fully",
    "AUTOMATED_DECISION_PARTIALLY": "partially",
    "AUTOMATED_DECISION_NOT_AUTOMATED": "none",
}
MULTI_COUNTRY_REGION = "MULTI"
UNKNOWN_REGION = "ZZ"
EU_COUNTRIES = frozenset({
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
    "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
})  # fmt: skip
EEA_COUNTRIES = EU_COUNTRIES | {"IS", "LI", "NO"}


class UnmappedValue(ValueError):
    """A value outside the DSA enums this mapping knows."""


def policy_category(raw: str, categories: frozenset[str]) -> str:
    if not raw or not raw.startswith(CATEGORY_PREFIX):
        raise UnmappedValue(f"category {raw!r} is not a STATEMENT_CATEGORY_ key")
    key = raw[len(CATEGORY_PREFIX) :].lower()
    key = V1_TO_V2.get(key, key)
    if key not in categories:
        raise UnmappedValue(f"category {raw!r} is in neither taxonomy")
    return key


def taxonomy_warning(raw: str, day: dt.date) -> str:
    """Empty when the category belongs to the taxonomy in force on ``day``, else the warning
    its statements are counted under."""
    key = raw.removeprefix(CATEGORY_PREFIX).lower()
    if day >= TAXONOMY_V2_FROM and key in V1_TO_V2:
        return (f"category {raw} is a v1 category, retired on {TAXONOMY_V2_FROM}: counted as "
                f"{V1_TO_V2[key]}")  # fmt: skip
    if day < TAXONOMY_V2_FROM and key in V2_ONLY:
        return f"category {raw} is a v2 category, before v2 began on {TAXONOMY_V2_FROM}"
    return ""


def detection_source(source_type: str, automated_detection: str) -> str:
    if source_type == "SOURCE_TRUSTED_FLAGGER":
        return "trusted_flagger"
    if source_type == "SOURCE_ARTICLE_16":
        return "user_report"
    if source_type == "SOURCE_TYPE_OTHER_NOTIFICATION":
        return "other"
    if source_type == "SOURCE_VOLUNTARY":
        if automated_detection not in ("Yes", "No"):
            raise UnmappedValue(f"automated_detection {automated_detection!r} is not Yes or No")
        return "automated" if automated_detection == "Yes" else "other"
    raise UnmappedValue(f"source_type {source_type!r} is not a DSA source type")


def automated_detection(raw: str) -> str:
    """The DSA's own field, for every statement (notices too): was the content found by
    automated means? ``yes`` or ``no``."""
    if raw not in ("Yes", "No"):
        raise UnmappedValue(f"automated_detection {raw!r} is not Yes or No")
    return raw.lower()


def initiative(source_type: str) -> str:
    """``own`` for a statement the platform acted on of its own accord (``SOURCE_VOLUNTARY``),
    ``notice`` for one that answered a notice (detection_source refuses unknown types)."""
    return "own" if source_type == "SOURCE_VOLUNTARY" else "notice"


DECISION_GROUNDS = {
    "DECISION_GROUND_ILLEGAL_CONTENT": "illegal",
    "DECISION_GROUND_INCOMPATIBLE_CONTENT": "terms",
}


def decision_ground(raw: str) -> str:
    """Why the platform acted: ``illegal`` content or ``terms`` (incompatible with its terms
    and conditions)."""
    if raw not in DECISION_GROUNDS:
        raise UnmappedValue(f"decision_ground {raw!r} is not a DSA decision ground")
    return DECISION_GROUNDS[raw]


def action(visibility: str, account: str, provision: str, monetary: str) -> str:
    shown = set(json_array(visibility, "decision_visibility"))
    if account in ("DECISION_ACCOUNT_SUSPENDED", "DECISION_ACCOUNT_TERMINATED") or provision in (
        "DECISION_PROVISION_TOTAL_SUSPENSION",
        "DECISION_PROVISION_TOTAL_TERMINATION",
    ):
        return "account_suspended"
    if shown & {"DECISION_VISIBILITY_CONTENT_REMOVED", "DECISION_VISIBILITY_CONTENT_DISABLED"}:
        return "removed"
    if (
        provision
        or monetary
        or shown
        & {
            "DECISION_VISIBILITY_CONTENT_AGE_RESTRICTED",
            "DECISION_VISIBILITY_CONTENT_INTERACTION_RESTRICTED",
            "DECISION_VISIBILITY_OTHER",
        }
    ):
        return "restricted"
    if "DECISION_VISIBILITY_CONTENT_DEMOTED" in shown:
        return "demoted"
    if "DECISION_VISIBILITY_CONTENT_LABELLED" in shown:
        return "labelled"
    raise UnmappedValue("no visibility, account, provision or monetary decision is given")


def surface(content_type: str) -> str:
    types = set(json_array(content_type, "content_type"))
    if not types:
        raise UnmappedValue("content_type is empty")
    if "CONTENT_TYPE_VIDEO" in types:
        return "video"
    if "CONTENT_TYPE_PRODUCT" in types:
        return "product"
    return "other"


def region(territorial_scope: str | None) -> str:
    """One country's code; ``EEA`` or ``EU`` for exactly those countries; ``MULTI`` for any other
    several; ``ZZ`` when unknown."""
    codes = countries(territorial_scope).split(",")
    if len(codes) == 1:
        return codes[0]
    chosen = frozenset(codes)
    if chosen == EEA_COUNTRIES:
        return "EEA"
    if chosen == EU_COUNTRIES:
        return "EU"
    return MULTI_COUNTRY_REGION


def countries(territorial_scope: str | None) -> str:
    """The countries a statement applies to, sorted and comma-joined (``ZZ`` when the field is
    empty or absent): each is counted once per country (``dsa_country_counts``)."""
    listed = json_array(territorial_scope, "territorial_scope") if territorial_scope else []
    if not listed:
        return UNKNOWN_REGION
    for code in listed:
        if not (len(code) == 2 and code.isalpha() and code.isupper()):
            raise UnmappedValue(f"territorial_scope holds {code!r}, not a country code")
    return ",".join(sorted(set(listed)))


def automated_decision(raw: str) -> str:
    if raw not in AUTOMATED_DECISIONS:
        raise UnmappedValue(f"automated_decision {raw!r} is not a DSA value")
    return AUTOMATED_DECISIONS[raw]


def json_array(raw: str | None, field: str) -> list[str]:
    """The dump's JSON arrays inside one CSV field: ``["A","B"]``; empty means none."""
    if raw is None or raw == "":
        return []
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise UnmappedValue(f"{field} is not a JSON array: {raw[:80]!r}") from exc
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UnmappedValue(f"{field} is not a JSON array of strings: {raw[:80]!r}")
    return value


# Facets: what a DSA analyst reads beyond the counts' keys, counted per platform and value in
# dsa_facet_counts. Descriptive only: a value outside the enums is counted as it is, and an
# unreadable list as "unreadable", never a reason to reject the statement.
UNKNOWN = "unknown"


def facet_values(raw: str | None, field: str, prefix: str = "") -> str:
    """A JSON list (or a single value) of the dump as comma-joined short values: prefix
    removed, lower case; ``unknown`` when empty."""
    if raw is None or raw == "":
        return UNKNOWN
    if raw.startswith("["):
        try:
            listed = json_array(raw, field)
        except UnmappedValue:
            return "unreadable"
    else:
        listed = [raw]
    short = sorted({v.removeprefix(prefix).lower() for v in listed if v})
    return ",".join(short) or UNKNOWN


FACETS = {
    # facet -> (dump column, prefix of its enum keys)
    "content_type": ("content_type", "CONTENT_TYPE_"),
    "account_type": ("account_type", "ACCOUNT_TYPE_"),
    "incompatible_content_illegal": ("incompatible_content_illegal", ""),
    "content_language": ("content_language", ""),
    "keyword": ("category_specification", "KEYWORD_"),
}
RESTRICTION_END_COLUMNS = (
    "end_date_visibility_restriction", "end_date_monetary_restriction",
    "end_date_service_restriction", "end_date_account_restriction",
)  # fmt: skip
# Restriction length, from the decision to the latest end date given, in buckets an analyst
# reads: a week, a month, half a year, longer.
RESTRICTION_BUCKETS = ((7, "up_to_7_days"), (30, "8_to_30_days"), (182, "31_to_182_days"))
