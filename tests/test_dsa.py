"""The DSA dump reader on real statement-of-reasons rows: the official zip-of-zips shape, both
category taxonomies, duplicates, the light variant, aggregate-only platforms and bad rows."""

import datetime as dt

import pandas as pd
import pytest

from risk_pipelines.sources import dsa_mapping as mapping
from risk_pipelines.sources.dsa import read_dump
from risk_pipelines.sources.dsa_dump import DumpError
from risk_pipelines.sources.hashing import hash_column
from tests.dsa_dumps import V1_SAMPLE, V2_SAMPLE, csv_text, sample_dump, sample_rows, write_dump

KEY = "test-key"
V1_PLATFORMS = frozenset({"TikTok", "Pinterest", "Google Shopping"})
V2_PLATFORMS = frozenset({"Wallapop", "Kleinanzeigen", "Hotel Hideaway"})

# The eleven distinct statements of the 2024-03-14 sample (v1 taxonomy), as the canonical
# schema must hold them: uuid prefix -> (decided_at, content_created_at, policy_category,
# region, surface, detection_source, action, automated_decision, platform, platform_uid).
# TikTok's statements list the EEA without Iceland (29 countries): MULTI, not EEA.
V1_EXPECTED = {
    "03b1b1c9": ("2024-03-12", "2024-03-12", "protection_of_minors", "MULTI", "video", "automated",
                 "restricted", "fully", "TikTok", "7345617503298525984"),
    "6903b11b": ("2024-03-14", "2020-08-13", "other_violation_tc", "EEA", "other", "other",
                 "restricted", "partially", "Pinterest", "a4b8b126-d636-400d-a531-acad94ffa1db"),
    "0b91eb6d": ("2024-02-12", "2024-02-06", "other_violation_tc", "EEA", "product", "automated",
                 "removed", "fully", "Google Shopping", "28992534168"),
    "987475f3": ("2024-03-13", "2024-03-13", "protection_of_minors", "MULTI", "video", "automated",
                 "restricted", "fully", "TikTok", "7345638443222948641"),
    "48edb85c": ("2024-03-13", "2024-03-13", "negative_effects_on_civic_discourse_or_elections",
                 "MULTI", "other", "automated", "restricted", "fully", "TikTok",
                 "7345639077846293281"),
    "5a08254f": ("2024-03-13", "2022-02-19", "protection_of_minors", "MULTI", "video", "automated",
                 "restricted", "none", "TikTok", "7345639077846309665"),
    "9fd78ab0": ("2024-03-08", "2024-03-08", "other_violation_tc", "EEA", "product", "automated",
                 "removed", "fully", "Google Shopping", "447899382558"),
    "8aff4f40": ("2024-03-12", "2024-03-12", "other_violation_tc", "EEA", "product", "automated",
                 "removed", "none", "Google Shopping", "364691407658"),
    "b58f744b": ("2024-02-12", "2023-12-24", "other_violation_tc", "EEA", "product", "automated",
                 "removed", "fully", "Google Shopping", "22741783168"),
    "91eab9e0": ("2024-02-28", "2024-02-28", "other_violation_tc", "EEA", "product", "automated",
                 "removed", "fully", "Google Shopping", "55037475539"),
    "55dcb95e": ("2024-02-12", "2024-01-29", "other_violation_tc", "EEA", "product", "automated",
                 "removed", "fully", "Google Shopping", "08329314168"),
}  # fmt: skip
FIELDS = ("decided_at", "content_created_at", "policy_category", "region", "surface",
          "detection_source", "action", "automated_decision", "platform")  # fmt: skip


def test_v1_rows_map_field_by_field_and_the_repeated_uuid_is_dropped_and_counted(tmp_path):
    dump = sample_dump(tmp_path, V1_SAMPLE, split=5)
    day = read_dump(dump, hash_key=KEY, follow=V1_PLATFORMS)

    assert day.day == dt.date(2024, 3, 14) and day.variant == "full" and len(day.parts) == 2
    assert day.rows_read == 12 and day.duplicates_dropped == 1 and day.rows_rejected == 0
    assert day.balanced() and day.statements == 11
    rows = day.rows.set_index(day.rows["event_id"].str[:8])
    assert sorted(rows.index) == sorted(V1_EXPECTED)
    for prefix, expected in V1_EXPECTED.items():
        row = rows.loc[prefix]
        got = (
            str(row["decided_at"].date()), str(row["content_created_at"].date()),
            *(row[f] for f in FIELDS[2:]),
        )  # fmt: skip
        assert got == expected[:-1], prefix
        # The platform's content id only as a keyed hash; its leading zeros count.
        assert row["content_id_hash"] == hash_column(pd.Series([expected[-1]]), KEY).iat[0]
        assert expected[-1] not in row.to_string()
    assert rows.loc["03b1b1c9", "source_file"].startswith("dsa/sor-global-2024-03-14-full.zip:")
    assert rows.loc["03b1b1c9", "source_row"] == 1 and rows.loc["48edb85c", "source_row"] == 1
    assert not rows["appealed"].any() and rows["reported_at"].isna().all()


def test_v2_rows_keep_their_categories_and_a_single_country_scope_becomes_the_region(tmp_path):
    day = read_dump(sample_dump(tmp_path, V2_SAMPLE, split=9), hash_key=KEY, follow=V2_PLATFORMS)
    assert day.rows_read == 20 and day.duplicates_dropped == 0 and day.balanced()
    rows = day.rows.set_index(day.rows["event_id"].str[:8])
    kleinanzeigen = rows.loc["71a159b9"]
    assert (kleinanzeigen["policy_category"], kleinanzeigen["region"], kleinanzeigen["surface"],
            kleinanzeigen["action"], kleinanzeigen["automated_decision"],
            kleinanzeigen["detection_source"]) == (
        "scams_and_fraud", "DE", "other", "removed", "fully", "automated")  # fmt: skip
    assert str(kleinanzeigen["decided_at"]) == "2025-07-01 00:00:00"
    wallapop = rows.loc["f1e5d3be"]
    assert (wallapop["policy_category"], wallapop["surface"], wallapop["automated_decision"]) == (
        "intellectual_property_infringements",
        "product",
        "partially",
    )
    assert rows.loc["a8d01af1", "policy_category"] == "cyber_violence"  # new in v2
    assert set(day.aggregates["platform"]) == V2_PLATFORMS


def test_platforms_not_followed_are_only_counted_and_a_filter_leaves_the_rest_out(tmp_path):
    dump = sample_dump(tmp_path, V1_SAMPLE, split=5)
    day = read_dump(dump, hash_key=KEY, follow=frozenset({"TikTok"}),
                    platforms=frozenset({"TikTok", "Google Shopping"}))  # fmt: skip
    assert set(day.rows["platform"]) == {"TikTok"} and len(day.rows) == 4
    counts = day.aggregates.groupby("platform")["statements"].sum().to_dict()
    assert counts == {"TikTok": 4, "Google Shopping": 6}
    assert day.rows_outside_filter == 1 and day.balanced()  # the Pinterest row
    assert day.aggregates["statements"].dtype == "int64"


def test_a_light_dump_without_territorial_scope_reads_with_an_unknown_region(tmp_path):
    dump = sample_dump(tmp_path, V2_SAMPLE, split=9, variant="light")
    day = read_dump(dump, hash_key=KEY, follow=V2_PLATFORMS)
    assert day.variant == "light" and day.balanced() and day.rows_read == 20
    assert set(day.rows["region"]) == {mapping.UNKNOWN_REGION}


def test_bad_rows_are_rejected_with_reason_part_and_row_and_nothing_is_lost(tmp_path):
    header, rows = sample_rows(V2_SAMPLE)
    rows = [dict(r) for r in rows[:4]]
    rows[1]["category"] = "STATEMENT_CATEGORY_MADE_UP"
    rows[2]["application_date"] = "01/07/2025"
    rows[3]["decision_visibility"] = "[not json"
    dump = write_dump(
        tmp_path / "sor-global-2025-07-01-full.zip",
        {"a.csv.zip": {"part-0.csv": csv_text(header, rows)}},
    )
    day = read_dump(dump, hash_key=KEY, follow=V2_PLATFORMS)
    assert day.rows_read == 4 and day.statements == 1 and day.rows_rejected == 3
    assert day.balanced() and len(day.rows) == 1
    by_reason = {r.reason: (r.count, r.first_part, r.first_row) for r in day.rejected.values()}
    assert by_reason["category 'STATEMENT_CATEGORY_MADE_UP' is in neither taxonomy"] == (
        1, "a.csv.zip/part-0.csv", 2)  # fmt: skip
    assert by_reason["application_date is not YYYY-MM-DD HH:MM:SS (UTC)"][2] == 3
    assert any("decision_visibility is not a JSON array" in r for r in by_reason)


def test_dumps_that_cannot_be_read_are_refused_by_name(tmp_path):
    with pytest.raises(DumpError, match="not a DSA dump name"):
        read_dump(tmp_path / "statements.zip", hash_key=KEY)
    broken = tmp_path / "sor-global-2025-07-01-full.zip"
    broken.write_bytes(b"not a zip")
    with pytest.raises(DumpError, match="not a readable zip"):
        read_dump(broken, hash_key=KEY)
    header, rows = sample_rows(V2_SAMPLE)
    no_uuid = write_dump(
        tmp_path / "sor-global-2025-07-02-full.zip",
        {"a.csv.zip": {"p.csv": csv_text([c for c in header if c != "uuid"], rows[:2])}},
    )
    with pytest.raises(DumpError, match="a.csv.zip/p.csv: the header lacks uuid"):
        read_dump(no_uuid, hash_key=KEY)


@pytest.mark.parametrize(
    ("visibility", "account", "provision", "monetary", "expected"),
    [
        ('["DECISION_VISIBILITY_CONTENT_REMOVED"]', "DECISION_ACCOUNT_TERMINATED", "", "",
         "account_suspended"),
        ('["DECISION_VISIBILITY_CONTENT_LABELLED"]', "", "DECISION_PROVISION_TOTAL_SUSPENSION",
         "", "account_suspended"),
        ('["DECISION_VISIBILITY_CONTENT_DISABLED"]', "", "", "", "removed"),
        ("", "", "DECISION_PROVISION_PARTIAL_SUSPENSION", "", "restricted"),
        ("", "", "", "DECISION_MONETARY_SUSPENSION", "restricted"),
        ('["DECISION_VISIBILITY_CONTENT_DEMOTED","DECISION_VISIBILITY_CONTENT_LABELLED"]', "",
         "", "", "demoted"),
        ('["DECISION_VISIBILITY_CONTENT_LABELLED"]', "", "", "", "labelled"),
    ],
)  # fmt: skip
def test_the_most_severe_decision_given_is_the_action(
    visibility, account, provision, monetary, expected
):
    assert mapping.action(visibility, account, provision, monetary) == expected


def test_detection_source_combines_the_notice_type_with_automated_detection():
    assert mapping.detection_source("SOURCE_TRUSTED_FLAGGER", "No") == "trusted_flagger"
    assert mapping.detection_source("SOURCE_ARTICLE_16", "No") == "user_report"
    assert mapping.detection_source("SOURCE_TYPE_OTHER_NOTIFICATION", "Yes") == "other"
    assert mapping.detection_source("SOURCE_VOLUNTARY", "Yes") == "automated"
    assert mapping.detection_source("SOURCE_VOLUNTARY", "No") == "other"
    with pytest.raises(mapping.UnmappedValue):
        mapping.detection_source("SOURCE_VOLUNTARY", "Maybe")


def test_every_category_of_both_taxonomies_maps_to_a_canonical_one():
    from risk_pipelines.domain.taxonomy import POLICY_CATEGORIES

    enums = pd.read_csv(V1_SAMPLE.parent / "dsa_sor_enum_values.csv")
    categories = enums[enums["field"] == "category"]
    mapped = {
        row.csv_value: mapping.policy_category(row.csv_value, frozenset(POLICY_CATEGORIES))
        for row in categories.itertuples()
    }
    assert len(mapped) == 20 and set(mapped.values()) == set(POLICY_CATEGORIES)
    assert mapped["STATEMENT_CATEGORY_UNSAFE_AND_ILLEGAL_PRODUCTS"] == (
        "unsafe_and_prohibited_products"
    )
    assert mapped["STATEMENT_CATEGORY_NON_CONSENSUAL_BEHAVIOUR"] == "cyber_violence"


def test_uuid_keys_tell_uuids_apart_read_from_the_arrow_buffer_or_hashed_otherwise():
    import pyarrow as pa

    from risk_pipelines.sources.dsa_dump import uuid_keys

    uuids = [
        "03b1b1c9-a860-4bf6-afff-0d8f0d944871",
        "03B1B1C9-A860-4BF6-AFFF-0D8F0D944871",
        "03b1b1c9-a860-4bf6-afff-0d8f0d944872",
        "6903b11b-9cea-4f63-bece-a8848360e359",
    ]
    keys = uuid_keys(pa.array(uuids))
    assert keys[0] == keys[1] and len(set(keys.tolist())) == 3
    sliced = uuid_keys(pa.array(["x", *uuids]).slice(1))  # an offset into the buffer
    assert sliced.tolist() == keys.tolist()
    odd = uuid_keys(pa.array(["ad-5f6d8e2f", "ad-5f6d8e2f", "other"]))
    assert odd[0] == odd[1] != odd[2]


def test_a_followed_statement_in_two_parts_is_kept_and_counted_once(tmp_path):
    header, rows = sample_rows(V2_SAMPLE)
    dump = write_dump(
        tmp_path / "sor-global-2025-07-01-full.zip",
        {
            "a.csv.zip": {"p0.csv": csv_text(header, rows[:3])},
            "b.csv.zip": {"p1.csv": csv_text(header, rows[1:4])},  # rows 1 and 2 again
        },
    )
    day = read_dump(dump, hash_key=KEY, follow=V2_PLATFORMS)
    assert day.rows_read == 6 and day.duplicates_dropped == 2 and day.statements == 4
    assert len(day.rows) == 4 and day.rows["event_id"].is_unique and day.balanced()


def test_a_statement_repeated_in_another_part_is_counted_once_for_every_platform(tmp_path):
    """The dumps repeat statements across parts too; a platform nobody follows must not be
    counted twice for it (its volume series would jump on the days it happens)."""
    header, rows = sample_rows(V2_SAMPLE)
    dump = write_dump(
        tmp_path / "sor-global-2025-07-01-full.zip",
        {
            "a.csv.zip": {"p0.csv": csv_text(header, rows[:4])},
            "b.csv.zip": {"p1.csv": csv_text(header, [*rows[2:6], rows[0]])},
            "c.csv.zip": {"p2.csv": csv_text(header, rows[5:7])},
        },
    )
    once = read_dump(
        write_dump(tmp_path / "sor-global-2025-07-02-full.zip",
                   {"a.csv.zip": {"p0.csv": csv_text(header, rows[:7])}}),
        hash_key=KEY,
    )  # fmt: skip
    day = read_dump(dump, hash_key=KEY)  # no platform followed
    assert day.rows_read == 11 and day.duplicates_dropped == 4 and day.balanced()
    assert day.statements == once.statements == 7
    by_platform = day.aggregates.groupby("platform")["statements"].sum()
    pd.testing.assert_series_equal(
        by_platform, once.aggregates.groupby("platform")["statements"].sum()
    )


def test_a_row_without_a_uuid_is_rejected_not_taken_for_a_duplicate(tmp_path):
    header, rows = sample_rows(V2_SAMPLE)
    blank = [dict(rows[0], uuid=""), dict(rows[1], uuid="  "), rows[2]]
    dump = write_dump(
        tmp_path / "sor-global-2025-07-01-full.zip",
        {"a.csv.zip": {"p0.csv": csv_text(header, blank)}},
    )
    day = read_dump(dump, hash_key=KEY)
    assert day.duplicates_dropped == 0 and day.statements == 1 and day.balanced()
    rejection = day.rejected["uuid is empty"]
    assert (rejection.count, rejection.first_part, rejection.first_row) == (2, "a.csv.zip/p0.csv",
                                                                            1)  # fmt: skip


def test_the_shares_are_the_dsa_fields_own_notices_detected_automatically_included(tmp_path):
    """A platform whose notices' content was also found by automated tools: the automated
    detection rate is the share of `automated_detection = Yes`, whatever the source type."""
    from risk_pipelines.sources.dsa_metrics import dsa_daily_metrics

    header, rows = sample_rows(V2_SAMPLE)
    base = dict(rows[0], platform_name="Notices Inc")
    statements = [
        # Eight notices (Article 16), six of them flagged Yes, two on illegal content.
        *[dict(base, uuid=f"00000000-0000-4000-8000-{i:012d}", source_type="SOURCE_ARTICLE_16",
               automated_detection="Yes" if i < 6 else "No",
               decision_ground="DECISION_GROUND_ILLEGAL_CONTENT" if i < 2
               else "DECISION_GROUND_INCOMPATIBLE_CONTENT") for i in range(8)],
        # Two own-initiative statements, one found automatically.
        *[dict(base, uuid=f"00000000-0000-4000-9000-{i:012d}", source_type="SOURCE_VOLUNTARY",
               automated_detection="Yes" if i == 0 else "No",
               decision_ground="DECISION_GROUND_INCOMPATIBLE_CONTENT") for i in range(2)],
    ]  # fmt: skip
    dump = write_dump(
        tmp_path / "sor-global-2025-07-01-full.zip",
        {"a.csv.zip": {"p0.csv": csv_text(header, statements)}},
    )
    day = read_dump(dump, hash_key=KEY)
    totals = day.aggregates[["statements", "automated_detection_yes", "own_initiative",
                             "illegal_content"]].sum()  # fmt: skip
    assert totals.to_dict() == {"statements": 10, "automated_detection_yes": 7,
                                "own_initiative": 2, "illegal_content": 2}  # fmt: skip
    series = dsa_daily_metrics(day.aggregates, day.day).set_index("metric")
    assert series.loc["dsa_automated_detection_rate", "value"] == pytest.approx(0.7)
    assert series.loc["dsa_own_initiative_rate", "value"] == pytest.approx(0.2)
    assert series.loc["dsa_illegal_content_rate", "value"] == pytest.approx(0.2)
    assert series.loc["dsa_automated_detection_rate", "denominator"] == 10


def test_a_statement_with_a_value_outside_the_dsa_fields_is_rejected_by_name(tmp_path):
    header, rows = sample_rows(V2_SAMPLE)
    bad = [dict(rows[0], automated_detection="Maybe"), dict(rows[1], decision_ground="VIBES"),
           rows[2]]  # fmt: skip
    dump = write_dump(
        tmp_path / "sor-global-2025-07-01-full.zip",
        {"a.csv.zip": {"p0.csv": csv_text(header, bad)}},
    )
    day = read_dump(dump, hash_key=KEY)
    assert set(day.rejected) == {
        "automated_detection 'Maybe' is not Yes or No",
        "decision_ground 'VIBES' is not a DSA decision ground",
    }
    assert day.statements == 1 and day.balanced()


@pytest.mark.parametrize(
    ("sample", "day", "expected"),
    [
        (V1_SAMPLE, "2025-08-01", {
            "category STATEMENT_CATEGORY_SCOPE_OF_PLATFORM_SERVICE is a v1 category, retired on "
            "2025-07-01: counted as other_violation_tc": 6,
            "category STATEMENT_CATEGORY_PORNOGRAPHY_OR_SEXUALIZED_CONTENT is a v1 category, "
            "retired on 2025-07-01: counted as other_violation_tc": 1,
        }),
        (V2_SAMPLE, "2025-06-30", {
            "category STATEMENT_CATEGORY_CYBER_VIOLENCE is a v2 category, before v2 began on "
            "2025-07-01": 1,
            "category STATEMENT_CATEGORY_OTHER_VIOLATION_TC is a v2 category, before v2 began on "
            "2025-07-01": 1,
        }),
        (V1_SAMPLE, "2024-03-14", {}),
        (V2_SAMPLE, "2025-07-01", {}),
    ],
)  # fmt: skip
def test_a_category_outside_the_taxonomy_of_its_day_is_counted_with_a_named_warning(
    tmp_path, sample, day, expected
):
    header, rows = sample_rows(sample)
    dump = write_dump(
        tmp_path / f"sor-global-{day}-full.zip", {"a.csv.zip": {"p0.csv": csv_text(header, rows)}}
    )
    read = read_dump(dump, hash_key=KEY)
    assert {w.reason: w.count for w in read.warnings.values()} == expected
    assert read.rows_rejected == 0 and read.balanced()  # counted, not lost
    for warning in read.warnings.values():
        assert warning.first_part == "a.csv.zip/p0.csv" and warning.first_row >= 1


def test_per_country_counts_add_up_to_each_statement_times_its_scope(tmp_path):
    header, rows = sample_rows(V2_SAMPLE)
    dump = sample_dump(tmp_path, V2_SAMPLE, split=9)
    day = read_dump(dump, hash_key=KEY)
    scopes = {r["uuid"]: (r["platform_name"], mapping.countries(r["territorial_scope"]))
              for r in rows}  # fmt: skip
    expected: dict[tuple[str, str], int] = {}
    for platform, countries in scopes.values():
        for country in countries.split(","):
            expected[(platform, country)] = expected.get((platform, country), 0) + 1
    got = {(p, c): n for p, c, n in day.countries.itertuples(index=False)}
    assert got == expected
    assert day.countries["statements"].sum() == sum(len(c.split(",")) for _, c in scopes.values())
    assert got[("Hotel Hideaway", "IS")] == 18  # the EEA beyond the 27 is counted too


@pytest.mark.parametrize(
    ("scope", "region", "countries"),
    [
        ('["DE"]', "DE", "DE"),
        ('["AT","BE","BG","CY","CZ","DE","DK","EE","ES","FI","FR","GR","HR","HU","IE","IT",'
         '"LT","LU","LV","MT","NL","PL","PT","RO","SE","SI","SK"]', "EU", None),
        ('["AT","BE","BG","CY","CZ","DE","DK","EE","ES","FI","FR","GR","HR","HU","IE","IS",'
         '"IT","LI","LT","LU","LV","MT","NL","NO","PL","PT","RO","SE","SI","SK"]', "EEA", None),
        ('["FR","BE"]', "MULTI", "BE,FR"),
        ("", "ZZ", "ZZ"),
        (None, "ZZ", "ZZ"),
    ],
)  # fmt: skip
def test_the_region_names_the_bloc_a_scope_is_and_countries_list_it(scope, region, countries):
    assert mapping.region(scope) == region
    if countries:
        assert mapping.countries(scope) == countries
    with pytest.raises(mapping.UnmappedValue, match="not a country code"):
        mapping.countries('["DE","Germany"]')


def test_facets_count_what_an_analyst_reads_each_listed_value_once(tmp_path):
    header, rows = sample_rows(V2_SAMPLE)
    base = dict(rows[0], platform_name="Facets Ltd", application_date="2025-07-01 10:00:00")
    statements = [
        dict(base, uuid="00000000-0000-4000-8000-000000000001",
             content_type='["CONTENT_TYPE_TEXT","CONTENT_TYPE_IMAGE"]', content_language="DE",
             account_type="ACCOUNT_TYPE_BUSINESS",
             category_specification='["KEYWORD_ONLINE_BULLYING_INTIMIDATION"]',
             end_date_account_restriction="2025-07-05 10:00:00"),
        dict(base, uuid="00000000-0000-4000-8000-000000000002",
             content_type='["CONTENT_TYPE_VIDEO"]', content_language="", account_type="",
             category_specification='["KEYWORD_', incompatible_content_illegal="Yes",
             end_date_visibility_restriction="2025-08-15",
             end_date_monetary_restriction="2026-07-01 00:00:00"),
        dict(base, uuid="00000000-0000-4000-8000-000000000003",
             content_type='["CONTENT_TYPE_TEXT"]', content_language="FR",
             incompatible_content_illegal="No"),
    ]  # fmt: skip
    dump = write_dump(
        tmp_path / "sor-global-2025-07-01-full.zip",
        {"a.csv.zip": {"p0.csv": csv_text(header, statements)}},
    )
    day = read_dump(dump, hash_key=KEY)
    facets = {(f, v): n for _, f, v, n in day.facets.itertuples(index=False)}
    assert {k: n for k, n in facets.items() if k[0] == "content_type"} == {
        ("content_type", "text"): 2, ("content_type", "image"): 1, ("content_type", "video"): 1,
    }  # fmt: skip
    assert facets[("content_language", "de")] == 1 and facets[("content_language", "unknown")] == 1
    assert facets[("account_type", "business")] == 1 and facets[("account_type", "unknown")] == 2
    assert facets[("keyword", "online_bullying_intimidation")] == 1
    assert facets[("keyword", "unreadable")] == 1  # counted as such, never a rejection
    assert facets[("incompatible_content_illegal", "yes")] == 1
    # The latest end date given: four days, a year (over half a year), none.
    assert facets[("restriction", "up_to_7_days")] == 1
    assert facets[("restriction", "over_182_days")] == 1
    assert facets[("restriction", "no_end_date")] == 1
    assert day.rows_rejected == 0 and day.statements == 3


def test_two_uuids_that_share_a_sort_key_are_still_told_apart():
    """The day's seen-set sorts on a 64-bit key and settles ties with the other half, so even
    a (astronomically rare) shared key never drops a distinct statement."""
    import numpy as np

    from risk_pipelines.sources.dsa_dump import KEY_DTYPE, SeenKeys

    def keys(*pairs):
        return np.array(list(pairs), dtype=KEY_DTYPE)

    seen = SeenKeys()
    assert seen.first_seen(keys((5, 1), (5, 2), (5, 1), (9, 9))).tolist() == [
        True, True, False, True,
    ]  # fmt: skip
    assert seen.first_seen(keys((5, 3), (5, 2), (9, 9), (7, 1))).tolist() == [
        True, False, False, True,
    ]  # fmt: skip
    for block in range(40):  # enough blocks for the runs to merge
        seen.first_seen(keys(*[(1000 + block * 10 + i, i) for i in range(10)]))
    assert seen.first_seen(keys((5, 3), (1005, 5), (1005, 6))).tolist() == [False, False, True]
    assert len(seen) == 5 + 400 + 1


def test_the_followed_rows_spill_is_removed_once_discarded(tmp_path):
    day = read_dump(sample_dump(tmp_path, V2_SAMPLE, split=9), hash_key=KEY, follow=V2_PLATFORMS)
    spill = day.followed._path
    assert spill is not None and spill.exists() and len(day.rows) == len(day.followed) == 20
    day.followed.discard()
    assert not spill.exists() and day.rows.empty
