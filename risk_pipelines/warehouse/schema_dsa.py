"""The DSA source's count tables: a 700 M-row day is one pass and a few thousand rows here."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Date, MetaData, String, Table


def define_dsa_tables(metadata: MetaData) -> tuple[Table, Table, Table]:
    """The tables on ``metadata``: counts per key, per country of the scope, per facet."""
    dsa_statement_counts = Table(
        "dsa_statement_counts",
        metadata,
        Column("ds", Date, primary_key=True, comment="the dump's day (statements submitted then)"),
        Column("platform", String(120), primary_key=True, comment="platform_name as submitted"),
        Column("policy_category", String(80), primary_key=True, comment="canonical (v2) category"),
        Column("detection_source", String(40), primary_key=True),
        Column(
            "automated_decision", String(20), primary_key=True, comment="fully | partially | none"
        ),
        Column("action", String(40), primary_key=True),
        Column("statements", BigInteger, nullable=False, comment="de-duplicated statements"),
        # Of the statements, how many carry each DSA flag (sources/dsa_block.py FLAG_COUNTS).
        Column("automated_detection_yes", BigInteger, comment="automated_detection = Yes"),
        Column("own_initiative", BigInteger, comment="source_type SOURCE_VOLUNTARY"),
        Column("illegal_content", BigInteger, comment="decision_ground ILLEGAL_CONTENT"),
    )

    dsa_country_counts = Table(
        "dsa_country_counts",
        metadata,
        # A statement applies to the countries of its territorial scope (most list all 30 EEA
        # countries): it is counted once in each, so a country's figure is what applied there.
        Column("ds", Date, primary_key=True, comment="the dump's day"),
        Column("platform", String(120), primary_key=True, comment="platform_name as submitted"),
        Column("country", String(2), primary_key=True, comment="ISO 3166 code; ZZ when unknown"),
        Column("statements", BigInteger, nullable=False, comment="statements applying there"),
    )
    dsa_facet_counts = Table(
        "dsa_facet_counts",
        metadata,
        # What a DSA analyst reads beyond the keys (dsa_mapping.FACETS): content type, account
        # type, incompatible_content_illegal, content language, keyword, restriction length. A
        # statement listing two values of a facet counts under each.
        Column("ds", Date, primary_key=True, comment="the dump's day"),
        Column("platform", String(120), primary_key=True, comment="platform_name as submitted"),
        Column("facet", String(40), primary_key=True),
        Column("value", String(80), primary_key=True, comment="lower case; unknown when empty"),
        Column("statements", BigInteger, nullable=False),
    )
    return dsa_statement_counts, dsa_country_counts, dsa_facet_counts
