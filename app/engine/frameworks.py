"""The governance frameworks a rubric's criteria may point to, and how strongly a pointer holds.

A reference is a pointer for a governance team, not a finding of conformity: see the caveats under
"Governance frameworks" in `docs/guides/governance.md`.
"""

from enum import StrEnum


class Framework(StrEnum):
    nist_ai_rmf = "nist-ai-rmf"
    iso_42001 = "iso-42001"
    eu_ai_act = "eu-ai-act"
    ml_test_score = "ml-test-score"


NAMES = {
    Framework.nist_ai_rmf: "NIST AI RMF 1.0",
    Framework.iso_42001: "ISO/IEC 42001:2023 Annex A",
    Framework.eu_ai_act: "EU AI Act (Regulation (EU) 2024/1689)",
    Framework.ml_test_score: "ML Test Score",
}

# Version 1 of the default rubric was published before these slugs and names its frameworks as
# people do; published versions never change, so the views still have to recognise those names.
LEGACY_NAMES = {"NIST AI RMF": Framework.nist_ai_rmf, "ML Test Score": Framework.ml_test_score}


class RiskTier(StrEnum):
    """A project's risk class after the EU AI Act, as an approver records it."""

    unclassified = "unclassified"
    minimal = "minimal"
    limited = "limited"
    high = "high"
    prohibited = "prohibited"


class Strength(StrEnum):
    """How closely a framework's identifier corresponds to a criterion."""

    strong = "strong"  # the obligation or test is about the same thing
    moderate = "moderate"  # part of the criterion, or the same thing in another scope
    weak = "weak"  # the closest honest pointer, no more


def framework_of(name: str) -> Framework | None:
    """The framework a stored reference names, by its slug or, in old versions, its human name."""
    if name in Framework._value2member_map_:
        return Framework(name)
    return LEGACY_NAMES.get(name)
