"""Unknown query parameters are refused, naming them: `?ownr=` must not quietly return everything."""

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.requests import Request

from app.core.errors import FieldError, Unprocessable


def _query_parameters(dependant: Dependant) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for dependency in dependant.dependencies:
        names |= _query_parameters(dependency)
    return names


# Routes are unhashable; their compiled path pattern and methods name them.
_known: dict[tuple[str, frozenset[str]], frozenset[str]] = {}


def _known_parameters(route: APIRoute) -> frozenset[str]:
    name = (route.path_regex.pattern, frozenset(route.methods or ()))
    known = _known.get(name)
    if known is None:
        known = _known[name] = frozenset(_query_parameters(route.dependant))
    return known


def refuse_unknown_query_parameters(request: Request) -> None:
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not request.query_params:
        return
    known = _known_parameters(route)
    unknown = sorted({name for name in request.query_params if name not in known})
    if unknown:
        raise Unprocessable(
            f"Unknown query parameters: {', '.join(unknown)}."
            + (f" This operation takes {', '.join(sorted(known))}." if known else " This operation takes none."),
            errors=[FieldError(field=f"query.{name}", message="not a parameter of this operation") for name in unknown],
        )
