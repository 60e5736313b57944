"""A small SVG badge of a project's readiness, for portals to embed."""

from xml.sax.saxutils import escape, quoteattr

from app.engine.scoring import Level

COLOURS = {
    Level.not_ready: "#e05d44",
    Level.pilot_ready: "#fe7d37",
    Level.production_ready: "#44cc11",
    Level.scale_ready: "#007ec6",
}
LABEL = "readiness"
CHAR_WIDTH = 6.5
PADDING = 10


def _width(text: str) -> int:
    return int(len(text) * CHAR_WIDTH + PADDING)


def render(score: float, level: Level) -> str:
    value = f"{score:.0f} · {level.value.replace('_', ' ')}"
    colour = COLOURS[level]
    left, right = _width(LABEL), _width(value)
    total = left + right
    title = f"{LABEL}: {value}"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" '
        f"aria-label={quoteattr(title)}>"
        f"<title>{escape(title)}</title>"
        f'<rect width="{left}" height="20" fill="#555"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="{colour}"/>'
        f'<g fill="#fff" text-anchor="middle" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">'
        f'<text x="{left / 2}" y="14">{escape(LABEL)}</text>'
        f'<text x="{left + right / 2}" y="14">{escape(value)}</text>'
        f"</g></svg>"
    )
