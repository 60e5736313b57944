"""The steering report as people read it: a printable HTML page, and the same page as a PDF
rendered by the service itself with WeasyPrint and the local fonts (no browser, nothing fetched:
the only resource it may load is its own style sheet)."""

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from app.reports.schemas import SteeringReport

TEMPLATES = Path(__file__).parent / "templates"
STYLESHEET = TEMPLATES / "steering.css"
# Longer lists are cut in the page and the PDF (the JSON has every item): a committee reads the
# top of each, and a PDF of thousands of rows would take long to render and longer to read.
SHOWN = 25
BAR_HEIGHT = 14
# Presentation attributes rather than classes: WeasyPrint applies no page style sheet inside SVG.
START_FILL, END_FILL, TEXT_FILL = "#9fb3c8", "#1f6feb", "#1b1f24"
LABEL_WIDTH = 110
CHART_WIDTH = 520


def _words(value: object) -> str:
    text = str(value)
    return "POC" if text == "poc" else text.replace("_", " ").capitalize()


environment = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
environment.filters["words"] = _words


def funnel_chart(report: SteeringReport) -> Markup:
    """Projects per stage at the start and at the end of the period, as bars: SVG with
    presentation attributes and classes only, which both the dashboard's policy and WeasyPrint take."""
    stages = report.funnel.stages
    widest = max([1, *(max(s.at_start, s.at_end) for s in stages)])
    scale = (CHART_WIDTH - LABEL_WIDTH - 40) / widest
    rows = []
    for index, stage in enumerate(stages):
        y = index * (2 * BAR_HEIGHT + 8)
        name = escape(_words(stage.stage))
        rows.append(
            f'<text x="0" y="{y + BAR_HEIGHT + 4}">{name}</text>'
            f'<rect class="start" fill="{START_FILL}" x="{LABEL_WIDTH}" y="{y}" '
            f'width="{stage.at_start * scale:.1f}" height="{BAR_HEIGHT}"/>'
            f'<text x="{LABEL_WIDTH + stage.at_start * scale + 4:.1f}" y="{y + BAR_HEIGHT - 3}">{stage.at_start}</text>'
            f'<rect class="end" fill="{END_FILL}" x="{LABEL_WIDTH}" y="{y + BAR_HEIGHT}" '
            f'width="{stage.at_end * scale:.1f}" height="{BAR_HEIGHT}"/>'
            f'<text x="{LABEL_WIDTH + stage.at_end * scale + 4:.1f}" y="{y + 2 * BAR_HEIGHT - 3}">{stage.at_end}</text>'
        )
    height = len(stages) * (2 * BAR_HEIGHT + 8)
    return Markup(
        f'<svg class="funnel" role="img" viewBox="0 0 {CHART_WIDTH} {height}" width="{CHART_WIDTH}" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg" font-size="11" fill="{TEXT_FILL}">'
        "<title>Projects per stage: at the start (light) and at the end (dark)"
        f"</title>{''.join(rows)}</svg>"
    )


def html(report: SteeringReport, *, stylesheet: str | None, pdf_link: str | None = None, home: str = "/ui/") -> str:
    """The report's page; `stylesheet` is linked when given (the dashboard serves it), and
    `pdf_link` offers the PDF of the same period."""
    template = environment.get_template("steering.html")
    return template.render(
        report=report,
        stylesheet=stylesheet,
        pdf_link=pdf_link,
        home=home,
        shown=SHOWN,
        funnel_chart=funnel_chart(report),
    )


def pdf(report: SteeringReport) -> bytes:
    """The report as a PDF, rendered here."""
    # Imported when first needed: WeasyPrint loads Pango and the fonts, which a process that never
    # renders a report need not pay for at start.
    from weasyprint import CSS, HTML
    from weasyprint.urls import URLFetcher

    # The page loads nothing: no protocol is allowed, so no link or image could make it fetch.
    document = HTML(string=html(report, stylesheet=None), url_fetcher=URLFetcher(allowed_protocols=()))
    rendered: bytes = document.write_pdf(stylesheets=[CSS(filename=str(STYLESHEET))])
    return rendered
