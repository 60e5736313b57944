"""JSON merge patch (RFC 7396), which every `PATCH` of the API takes."""

from collections.abc import Mapping

Json = dict[str, "Json"] | list["Json"] | str | int | float | bool | None


def merge_patch(target: Mapping[str, Json], patch: Mapping[str, Json]) -> dict[str, Json]:
    """Objects merge recursively, `null` removes, anything else replaces."""
    result = dict(target)
    for name, value in patch.items():
        if value is None:
            result.pop(name, None)
        elif isinstance(value, dict):
            existing = result.get(name)
            result[name] = merge_patch(existing if isinstance(existing, dict) else {}, value)
        else:
            result[name] = value
    return result
