"""A readiness result as the API shows it and as it is stored: plain JSON, the same bytes for the
same result whenever it is computed (reasons carry dates, not ages), and the ETags derived from it.

The criteria come last, so that a result weighed again keeps their stored text (`CRITERIA`).
"""

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypedDict, cast

import pydantic_core

from app.engine import scoring


class AttestationDocument(TypedDict):
    status: str
    evidence_url: str | None
    note: str | None
    attested_by: str | None
    attested_at: str | None
    expires_at: str | None
    # Always, empty too: the stored document is sent as stored, and the response model has it.
    evidence_ids: list[str]


class CriterionDocument(TypedDict):
    key: str
    section: str
    title: str
    gate: bool
    status: str
    source: str
    reason: str
    observed: dict[str, Any]
    evidence_url: str | None
    attestation: AttestationDocument | None


class BlockerDocument(TypedDict):
    criterion: str
    title: str
    status: str
    reason: str


class GateDocument(TypedDict):
    passed: bool
    blockers: list[BlockerDocument]


class SectionDocument(TypedDict):
    key: str
    title: str
    score: float | None


class SummaryDocument(TypedDict):
    """What weighing the criteria's results decides: scores, level, gate, recommendation."""

    rubric: str
    rubric_version: int
    score: float
    level: str
    weakest_section: str | None
    gate: GateDocument
    recommendation: str
    sections: list[SectionDocument]


class ResultDocument(SummaryDocument):
    criteria: list[CriterionDocument]


def _timestamp(value: datetime | None) -> str | None:
    """As the response models write it: the stored document is sent as it is."""
    return cast(str, pydantic_core.to_jsonable_python(value)) if value is not None else None


def _attestation_document(answer: scoring.Answer | None) -> AttestationDocument | None:
    if answer is None:
        return None
    shown: AttestationDocument = {
        "status": answer.status,
        "evidence_url": answer.evidence_url,
        "note": answer.note,
        "attested_by": answer.attested_by,
        "attested_at": _timestamp(answer.attested_at),
        "expires_at": _timestamp(answer.expires_at),
        "evidence_ids": list(answer.evidence_ids),
    }
    return shown


def document(rubric: scoring.Rubric, result: scoring.Evaluation) -> ResultDocument:
    """The whole result: its summary, then its criteria."""
    return {**summary_document(rubric, result), "criteria": criteria_document(result.criteria)}


def summary_document(rubric: scoring.Rubric, result: scoring.Weighing) -> SummaryDocument:
    return {
        "rubric": rubric.key,
        "rubric_version": rubric.version,
        "score": result.score,
        "level": result.level.value,
        "weakest_section": result.weakest_section,
        "gate": {
            "passed": result.gate_passed,
            "blockers": [
                {"criterion": b.criterion, "title": b.title, "status": b.status.value, "reason": b.reason}
                for b in result.blockers
            ],
        },
        "recommendation": result.recommendation,
        "sections": [{"key": s.key, "title": s.title, "score": s.score} for s in result.sections],
    }


def criteria_document(criteria: tuple[scoring.CriterionResult, ...]) -> list[CriterionDocument]:
    return [
        {
            "key": c.key,
            "section": c.section,
            "title": c.title,
            "gate": c.gate,
            "status": c.status.value,
            "source": c.source.value,
            "reason": c.reason,
            "observed": c.observed,
            "evidence_url": c.evidence_url,
            "attestation": _attestation_document(c.attestation),
        }
        for c in criteria
    ]


# Where the criteria start in a result's text: compact JSON escapes every quote inside a string,
# so this can only be the document's own last key.
CRITERIA = ',"criteria":'


def joined(summary: str, criteria: str) -> str:
    """The text of `document` from the texts of its two parts: the same bytes."""
    return f"{summary[:-1]}{CRITERIA}{criteria}}}"


def serialized(result: Mapping[str, Any] | list[Any]) -> str:
    """Compact JSON, keys in the order the document was built: the same text for the same result."""
    return pydantic_core.to_json(result).decode()


def text_etag(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def result_etag(summary: str, criteria_etag: str) -> str:
    """A result's ETag, from its summary and its criteria's ETag: a result weighed again is tagged
    without reading its criteria."""
    return text_etag(f"{criteria_etag}:{summary}")


# Each criterion's status in one letter, in the order of the rubric version's criteria: what a
# history row keeps of its criteria (a few dozen bytes), so that any goal's past can be computed.
STATUS_CODES = {
    scoring.Status.met.value: "m",
    scoring.Status.partial.value: "p",
    scoring.Status.not_met.value: "n",
    scoring.Status.not_applicable.value: "a",
    scoring.Status.exempt.value: "e",
}
CODED_STATUSES = {code: status for status, code in STATUS_CODES.items()}


def coded_statuses(rubric: scoring.Rubric, statuses: Mapping[str, str]) -> str:
    """The statuses by criterion key as one letter each, in the rubric's order of criteria."""
    return "".join(STATUS_CODES[statuses[criterion.key]] for criterion in rubric.criteria)


def decoded_statuses(criteria: Sequence[str], coded: str) -> dict[str, str]:
    """`coded_statuses` read back, given the keys of the rubric version's criteria in order."""
    return {key: CODED_STATUSES[code] for key, code in zip(criteria, coded, strict=True)}


def undone_criteria(statuses: Mapping[str, str]) -> str:
    """The keys of the criteria partly met or not met, sorted, between commas (`,a.b,c.d,`; `,`
    for none): what the portfolio's status row keeps, so that whether a project has done some
    criteria is a substring test on a short string (`,a.b,` not in it)."""
    undone = sorted(key for key, status in statuses.items() if status in UNDONE)
    return f",{','.join(undone)}," if undone else ","


UNDONE = frozenset({scoring.Status.partial.value, scoring.Status.not_met.value})


def cause_summary(cause: list[dict[str, str]]) -> str:
    """`fact ops.rollback_tested_at, measurement batch`; the passing of time reads `time: ...`."""
    return ", ".join(
        f"time: {item['name']}" if item["kind"] == "time" else f"{item['kind']} {item['name']}" for item in cause
    )
