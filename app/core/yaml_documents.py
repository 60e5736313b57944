"""YAML for resources kept as code in git (rubric versions): read into the JSON the API validates,
written from the JSON it answers, so that a document fetched as YAML and posted back is the same.

Only YAML's safe subset is read (no tags that build objects). Anchors and aliases are refused: a
small body of nested aliases expands into an enormous document. So is a key given twice in one
mapping, which YAML would otherwise settle silently in favour of the last.
"""

from typing import Any

import pydantic_core
import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node

YAML_MEDIA_TYPE = "application/yaml"
# RFC 9512 registered application/yaml; the others are still sent by older tools.
YAML_MEDIA_TYPES = frozenset({YAML_MEDIA_TYPE, "application/x-yaml", "text/yaml", "text/x-yaml"})
# `openapi_extra` of an operation that also takes (a POST) or answers (a GET) YAML; the contract
# describes the YAML beside the JSON, and the request middleware lets such bodies through.
AS_YAML: dict[str, Any] = {"x-yaml": True}


class YamlError(ValueError):
    """A body that is not YAML, or not YAML this service reads; the message names the line."""


class _Loader(yaml.SafeLoader):
    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise ComposerError(None, None, "anchors and aliases are not accepted", event.start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str) and key in seen:
                raise ConstructorError(None, None, f"the key {key!r} is given twice", key_node.start_mark)
            seen.add(key if isinstance(key, str) else id(key_node))
        return super().construct_mapping(node, deep)


def is_yaml(content_type: str | None) -> bool:
    return (content_type or "").split(";", 1)[0].strip().lower() in YAML_MEDIA_TYPES


def wants_yaml(accept: str | None) -> bool:
    """Whether an `Accept` header asks for YAML (by any of its names) rather than JSON."""
    if not accept:
        return False
    return any(part.split(";", 1)[0].strip().lower() in YAML_MEDIA_TYPES for part in accept.split(","))


def json_of(body: bytes) -> bytes:
    """The YAML document as JSON bytes; `YamlError` naming the line and column where it fails."""
    try:
        document = yaml.load(body, Loader=_Loader)  # noqa: S506 - a SafeLoader, stricter still
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        raise YamlError(f"{where}{error.problem or error.context or 'not YAML'}") from error
    except yaml.YAMLError as error:
        raise YamlError(f"not YAML: {error}") from error
    except RecursionError as error:
        raise YamlError("the document is nested too deeply") from error
    try:
        return pydantic_core.to_json(document)
    except (pydantic_core.PydanticSerializationError, RecursionError, ValueError) as error:
        raise YamlError(f"a value has no JSON equivalent: {error}") from error


def document_of(data: Any) -> str:
    """YAML of JSON-shaped data, keys in the order given, for people to read and diff in git."""
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100)
