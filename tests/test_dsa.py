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
V1_EXPECTED = {
    "03b1b1c9": ("2024-03-12", "2024-03-12", "protection_of_minors", "EU", "video", "automated",
                 "restricted", "fully", "TikTok", "7345617503298525984"),
    "6903b11b": ("2024-03-14", "2020-08-13", "other_violation_tc", "EU", "other", "other",
                 "restricted", "partially", "Pinterest", "a4b8b126-d636-400d-a531-acad94ffa1db"),
    "0b91eb6d": ("2024-02-12", "2024-02-06", "other_violation_tc", "EU", "product", "automated",
                 "removed", "fully", "Google Shopping", "28992534168"),
    "987475f3": ("2024-03-13", "2024-03-13", "protection_of_minors", "EU", "video", "automated",
                 "restricted", "fully", "TikTok", "7345638443222948641"),
    "48edb85c": ("2024-03-13", "2024-03-13", "negative_effects_on_civic_discourse_or_elections",
                 "EU", "other", "automated", "restricted", "fully", "TikTok",
                 "7345639077846293281"),
    "5a08254f": ("2024-03-13", "2022-02-19", "protection_of_minors", "EU", "video", "automated",
                 "restricted", "none", "TikTok", "7345639077846309665"),
    "9fd78ab0": ("2024-03-08", "2024-03-08", "other_violation_tc", "EU", "product", "automated",
                 "removed", "fully", "Google Shopping", "447899382558"),
    "8aff4f40": ("2024-03-12", "2024-03-12", "other_violation_tc", "EU", "product", "automated",
                 "removed", "none", "Google Shopping", "364691407658"),
    "b58f744b": ("2024-02-12", "2023-12-24", "other_violation_tc", "EU", "product", "automated",
                 "removed", "fully", "Google Shopping", "22741783168"),
    "91eab9e0": ("2024-02-28", "2024-02-28", "other_violation_tc", "EU", "product", "automated",
                 "removed", "fully", "Google Shopping", "55037475539"),
    "55dcb95e": ("2024-02-12", "2024-01-29", "other_violation_tc", "EU", "product", "automated",
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
