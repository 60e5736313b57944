"""The published contract: FastAPI's document, completed with what only the whole service knows.

FastAPI describes an operation from its signature and response model. It cannot see what the
middleware, the authenticator, the error handlers and the routers add to the answers (statuses,
headers), that a merge patch is a partial write model, or how a client generator should name an
enum member. One pass over the generated document adds all of it, so that generated clients are
typed end to end and routers stay free of boilerplate.
"""

import copy
import json
import re
from collections.abc import Iterator, Mapping
from http import HTTPStatus
from typing import Any

from app.core.errors import PROBLEM_MEDIA_TYPE, Problem
from app.core.yaml_documents import YAML_MEDIA_TYPE

METHODS = ("get", "put", "post", "patch", "delete")
WRITE_METHODS = frozenset({"put", "post", "patch", "delete"})
MERGE_PATCH_MEDIA_TYPE = "application/merge-patch+json"
CSV_MEDIA_TYPE = "text/csv"
JSON_MEDIA_TYPE = "application/json"

HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-ID": {
        "description": "The request's id, as in the service's logs: the caller's own `X-Request-ID` when it "
        "sent a valid one (up to 128 of `A-Za-z0-9._:-`), else one the service made.",
        "schema": {"type": "string"},
    },
    "ETag": {
        "description": "The representation's entity tag: send it back in `If-Match` to guard a change, "
        "or in `If-None-Match` to be answered 304 while it has not changed.",
        "schema": {"type": "string"},
    },
    "Location": {
        "description": "The path of the resource this request created.",
        "schema": {"type": "string", "format": "uri-reference"},
    },
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
    "RateLimit": {
        "description": "The caller's remaining quota (draft-ietf-httpapi-ratelimit-headers): "
        '`"<policy>";r=<remaining>;t=<seconds until full>`. Sent while rate limits are on.',
        "schema": {"type": "string"},
    },
    "RateLimit-Policy": {
        "description": "The quota policy in force (draft-ietf-httpapi-ratelimit-headers): "
        '`"<policy>";q=<burst>;w=<window seconds>`. Sent while rate limits are on.',
        "schema": {"type": "string"},
    },
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored first response to a request with the same "
        "`Idempotency-Key`, replayed instead of performing the operation again.",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "WWW-Authenticate": {
        "description": "The `Bearer` challenge, with the reason a credential was refused (RFC 6750).",
        "schema": {"type": "string"},
    },
    "Content-Disposition": {
        "description": "The file name a CSV export is saved under.",
        "schema": {"type": "string"},
    },
}

DESCRIPTIONS = {
    304: "Not Modified: `If-None-Match` names the current ETag; the representation has not changed.",
    400: "Bad Request: the body is not valid JSON, or a cursor was not issued by the service.",
    401: "Unauthorized: no valid credential.",
    403: "Forbidden: the credential's role is too weak for the operation, or the change would reach a "
    "department outside the credential's scope.",
    409: "Conflict: the change contradicts the stored state (named in `detail`), a concurrent write got "
    "there first, or a request with the same `Idempotency-Key` is still running (see `Retry-After`).",
    412: "Precondition Failed: `If-Match` names none of the resource's current ETags.",
    413: "Content Too Large: the body exceeds this operation's size limit.",
    415: "Unsupported Media Type: request bodies must be JSON (or YAML, where the operation says so).",
    422: "Unprocessable Content: invalid fields or query parameters; `errors` names each one.",
    429: "Too Many Requests: the caller's rate limit, or the address's limit on failed authentications, "
    "is spent; retry after `Retry-After` seconds.",
    503: "Service Unavailable: the database is unavailable or busy; retry after `Retry-After` seconds.",
}

# What routers set that their signatures do not show. A conditional-request parameter implies an
# ETag, and is read off the operation; these are the rest, by operation id and status.
ROUTER_HEADERS: dict[str, dict[str, tuple[str, ...]]] = {
    "create_project": {"201": ("ETag", "Location")},
    "replace_project": {"201": ("Location",)},
    "create_kpi": {"201": ("ETag", "Location")},
    "put_kpi": {"201": ("Location",)},
    "create_rubric": {"201": ("ETag", "Location")},
    "publish_rubric_version": {"201": ("ETag", "Location")},
    "get_rubric": {"200": ("ETag",)},
    "get_rubric_version": {"200": ("ETag",)},
    "create_initiative": {"201": ("ETag", "Location")},
    "create_evaluation": {"201": ("Location",)},
    "create_webhook": {"201": ("Location",)},
}

# The statuses an idempotent operation stores and replays: the effect's own answers, not the
# refusals that come before it runs (authentication, body parsing and size).
REPLAYED_STATUSES = re.compile(r"^(2\d\d|404|409|412|422)$")


def complete(document: dict[str, Any], *, required_roles: Mapping[tuple[str, str], str]) -> None:
    """Complete FastAPI's document in place; `required_roles` maps (path, METHOD) to a role."""
    _one_schema_per_model(document)
    components = document.setdefault("components", {})
    _problem_schemas(components.setdefault("schemas", {}))
    components["headers"] = copy.deepcopy(HEADERS)
    for path, method, operation in _operations(document.get("paths", {})):
        _yaml(operation, method)
        role = required_roles.get((path, method.upper()))
        if role is not None:
            operation["x-required-role"] = role
            operation["description"] = f"{operation.get('description', '')}\n\nRequires the `{role}` role.".strip()
        if path.startswith("/api/"):
            _api_statuses(operation, method, role)
        _headers(operation)
    _typed_merge_patches(document)
    for path_item in document.get("webhooks", {}).values():
        for operation in path_item.values():
            # What a receiver answers to bad input is its own business, not part of this contract.
            operation.get("responses", {}).pop("422", None)
    _name_enum_members(document)
    components["schemas"] = dict(sorted(components["schemas"].items()))


def _operations(paths: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, path_item in paths.items():
        for method in METHODS:
            if method in path_item:
                yield path, method, path_item[method]


def _one_schema_per_model(document: dict[str, Any]) -> None:
    """Merge the `-Input`/`-Output` twins FastAPI makes of a model that is the same both ways.

    FastAPI splits recursive models (the rubric's nested checks) even when both ways are the same,
    and generators then see two models with one title. Twins that differ in substance stay apart
    (and fail the contract tests): give such a model one schema, as money has. Splitting nothing
    (`separate_input_output_schemas=False`) would describe responses by their validation schema,
    wrong wherever serialisation differs (StageTransitionRead's `from`).
    """
    schemas = document.get("components", {}).get("schemas", {})
    twins = {name.removesuffix("-Input") for name in schemas if name.endswith("-Input")}
    twins = {name for name in twins if f"{name}-Output" in schemas and name not in schemas}
    while twins:
        text = json.dumps(document)
        for name in twins:
            for suffix in ("-Input", "-Output"):
                text = text.replace(f'"#/components/schemas/{name}{suffix}"', f'"#/components/schemas/{name}"')
        merged = json.loads(text)
        candidates = merged["components"]["schemas"]
        different = {name for name in twins if candidates[f"{name}-Input"] != candidates[f"{name}-Output"]}
        if not different:
            for name in twins:
                candidates[name] = candidates.pop(f"{name}-Input")
                del candidates[f"{name}-Output"]
            document.clear()
            document.update(merged)
            return
        twins -= different


def _yaml(operation: dict[str, Any], method: str) -> None:
    """YAML beside JSON, where an operation takes it (a POST's body) or answers it (a GET, on
    `Accept: application/yaml`): the JSON's document written in YAML, one read into the other.
    Described as text naming its model, which is what generated clients can send and receive
    (openapi-python-client, for one, reads no YAML schema)."""
    if not operation.pop("x-yaml", False):
        return
    content = operation.get("requestBody", {}).get("content", {})
    if JSON_MEDIA_TYPE in content:
        content[YAML_MEDIA_TYPE] = _as_yaml(content[JSON_MEDIA_TYPE])
    answer = operation.get("responses", {}).get("200", {}).get("content", {})
    if method == "get" and JSON_MEDIA_TYPE in answer:
        answer[YAML_MEDIA_TYPE] = _as_yaml(answer[JSON_MEDIA_TYPE])


def _as_yaml(json_media: Mapping[str, Any]) -> dict[str, Any]:
    model = _schema_name(json_media.get("schema", {}))
    return {
        "schema": {
            "type": "string",
            "description": f"A `{model}` written in YAML: the same fields as the JSON, read into it (YAML's "
            "safe subset, without anchors and aliases).",
        }
    }


def _problem_schemas(schemas: dict[str, Any]) -> None:
    """Every error is the service's problem+json, never FastAPI's validation error shape."""
    problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(problem.pop("$defs", {}))
    schemas["Problem"] = problem
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)


def _header_names(operation: dict[str, Any]) -> set[str]:
    return {p["name"].lower() for p in operation.get("parameters", []) if p.get("in") == "header"}


def _problem(status: int) -> dict[str, Any]:
    return {
        "description": DESCRIPTIONS.get(status, HTTPStatus(status).phrase),
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _api_statuses(operation: dict[str, Any], method: str, role: str | None) -> None:
    """Every status the service's layers can answer, documented on the operations they can reach."""
    responses = operation.setdefault("responses", {})
    headers = _header_names(operation)
    statuses = {422, 503}
    if operation.get("security"):
        statuses |= {401, 403, 429}
    if "requestBody" in operation:
        statuses |= {400, 413, 415}
    # Any write can lose a race to a concurrent one; a reader's POST (a preview) writes nothing.
    if method in WRITE_METHODS and role != "reader":
        statuses.add(409)
    if "if-match" in headers:
        statuses.add(412)
    for status in statuses:
        generic = responses.get(str(status), {}).get("description") in (None, HTTPStatus(status).phrase)
        response = responses.setdefault(str(status), _problem(status))
        if generic:
            response["description"] = DESCRIPTIONS[status]
        response["content"] = _problem(status)["content"]
    if "if-none-match" in headers:
        responses["304"] = {"description": DESCRIPTIONS[304]}
    operation["responses"] = dict(sorted(responses.items()))


def _headers(operation: dict[str, Any]) -> None:
    """The response headers each answer can carry, from the layers that set them."""
    parameters = _header_names(operation)
    conditional = bool(parameters & {"if-match", "if-none-match"})
    idempotent = "idempotency-key" in parameters
    authenticated = bool(operation.get("security"))
    set_by_router = ROUTER_HEADERS.get(operation.get("operationId", ""), {})
    for status, response in operation.get("responses", {}).items():
        names = ["X-Request-ID"]
        if authenticated and status != "401":
            names += ["RateLimit", "RateLimit-Policy"]
        if status == "401":
            names.append("WWW-Authenticate")
        if status in ("429", "503") or (status == "409" and idempotent):
            names.append("Retry-After")
        if conditional and (status == "304" or (status.startswith("2") and "content" in response)):
            names.append("ETag")
        if idempotent and REPLAYED_STATUSES.match(status):
            names.append("Idempotent-Replayed")
        if CSV_MEDIA_TYPE in response.get("content", {}):
            names.append("Content-Disposition")
        names += set_by_router.get(status, ())
        documented = response.setdefault("headers", {})
        for name in names:
            documented.setdefault(name, {"$ref": f"#/components/headers/{name}"})


def _schema_name(schema: Mapping[str, Any]) -> str | None:
    ref = schema.get("$ref")
    return ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None


def _json_body_schema(operation: Mapping[str, Any] | None) -> str | None:
    if operation is None:
        return None
    content = operation.get("requestBody", {}).get("content", {})
    return _schema_name(content.get("application/json", {}).get("schema", {}))


def _typed_merge_patches(document: dict[str, Any]) -> None:
    """A merge-patch body as the write model with every field optional and nullable (RFC 7396).

    The write model is the body of the PUT on the same path, or else of the POST that creates the
    resource in its collection; the patch is named after the resource's read model.
    """
    paths = document.get("paths", {})
    schemas = document["components"]["schemas"]
    for path, item in paths.items():
        operation = item.get("patch", {})
        body = operation.get("requestBody", {})
        media = body.get("content", {}).get(MERGE_PATCH_MEDIA_TYPE)
        if media is None or "$ref" in media.get("schema", {}):
            continue
        collection = path.rsplit("/", 1)[0]
        write_model = _json_body_schema(item.get("put")) or _json_body_schema(paths.get(collection, {}).get("post"))
        read_model = _schema_name(
            operation.get("responses", {})
            .get("200", {})
            .get("content", {})
            .get("application/json", {})
            .get("schema", {})
        )
        if write_model is None or read_model is None:
            raise ValueError(f"PATCH {path}: no write model to derive its merge patch from")
        name = read_model.removesuffix("Read") + "Patch"
        schemas[name] = _partial(schemas[write_model], name)
        body.setdefault("description", media["schema"].get("description"))
        media["schema"] = {"$ref": f"#/components/schemas/{name}"}


def _partial(model: Mapping[str, Any], title: str) -> dict[str, Any]:
    properties = {}
    for field, schema in model.get("properties", {}).items():
        schema = {key: value for key, value in schema.items() if key != "default"}
        variants = schema.get("anyOf", [])
        if {"type": "null"} not in variants:
            outer = {key: schema.pop(key) for key in ("title", "description") if key in schema}
            schema = {"anyOf": [schema, {"type": "null"}], **outer}
        properties[field] = schema
    return {
        "title": title,
        "description": "A JSON merge patch (RFC 7396): only the fields to change; objects merge, "
        "`null` clears a field (back to its default), anything else replaces it.",
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }


def _name_enum_members(node: Any) -> None:
    """`x-enum-varnames` for every string enum, so that generators name `-score` SCORE_DESC, not VALUE_1."""
    if isinstance(node, dict):
        values = node.get("enum")
        if isinstance(values, list) and values and all(isinstance(value, str) for value in values):
            node["x-enum-varnames"] = [_member_name(value) for value in values]
        for child in node.values():
            _name_enum_members(child)
    elif isinstance(node, list):
        for child in node:
            _name_enum_members(child)


def _member_name(value: str) -> str:
    descending = value.startswith("-")
    name = re.sub(r"[^A-Za-z0-9]+", "_", value.removeprefix("-")).strip("_").upper() or "EMPTY"
    if name[0].isdigit():
        name = f"VALUE_{name}"
    return f"{name}_DESC" if descending else name
