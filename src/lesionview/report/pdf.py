"""The PDF of the HTML report, printed by WeasyPrint.

Why WeasyPrint: it is a maintained pure-Python HTML/CSS layout engine (BSD licence, on PyPI)
that renders in-process and headless, with no browser, display or sandbox, honours CSS paged
media (``@page`` size, margins, page numbers in the footer), and embeds the report's base64
PNGs as they are, so the PDF is the same document as the HTML. Its only system requirement is
Pango (Debian ``libpango-1.0-0`` and ``libpangoft2-1.0-0``, plus a font such as
``fonts-dejavu-core``). Headless Chromium ``--print-to-pdf`` would also work but needs a
~300 MB browser and a subprocess per report; matplotlib's PdfPages cannot lay out tables.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ..io.atomic import atomic_path


def _weasyprint():
    from .build import ReportError

    try:
        import weasyprint
    except (ImportError, OSError) as exc:   # OSError: the Pango shared libraries are missing
        raise ReportError(
            f"the PDF report needs WeasyPrint and the Pango libraries ({exc}).",
            hint="pip install weasyprint; apt-get install libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core "
                 "(or leave pdf out of --format).") from exc
    # WeasyPrint logs every unsupported CSS property at WARNING; the report's CSS is ours.
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    return weasyprint


def html_to_pdf(html: str) -> bytes:
    """PDF bytes of a self-contained HTML page (no network access: every resource is inline)."""
    weasyprint = _weasyprint()
    # data: URLs only: a report that referenced a file or a web address would not be the
    # self-contained document it claims to be, and printing must never touch the network.
    fetcher = weasyprint.URLFetcher(allowed_protocols={"data"})
    return weasyprint.HTML(string=html, url_fetcher=fetcher).write_pdf()


def write_pdf(html: str, path: str | os.PathLike) -> Path:
    """Print the HTML report to ``path`` (atomically)."""
    path = Path(path)
    data = html_to_pdf(html)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path
