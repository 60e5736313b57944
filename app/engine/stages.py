"""The stages an AI project moves through, from idea to scaling, and their order."""

from enum import StrEnum


class Stage(StrEnum):
    idea = "idea"
    poc = "poc"
    pilot = "pilot"
    production = "production"
    scaling = "scaling"
    retired = "retired"


FORWARD_ORDER = (Stage.idea, Stage.poc, Stage.pilot, Stage.production, Stage.scaling)
IN_PRODUCTION = frozenset({Stage.production, Stage.scaling})


def has_reached(current: Stage, stage: Stage) -> bool:
    """Whether a project in `current` is at or past `stage`. A retired project is held to every stage."""
    if current == Stage.retired:
        return True
    return FORWARD_ORDER.index(current) >= FORWARD_ORDER.index(stage)
