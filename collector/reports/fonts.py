"""The CJK font of the PDF report: a TrueType font embedded when one is found, else a font that needs
no file at all, so a report is produced on any machine.

Order: `XUNJIAN_REPORT_FONT` (a .ttf/.ttc path) when it loads; the TrueType CJK fonts Debian ships
(fonts-wqy-zenhei, fonts-wqy-microhei, fonts-arphic-uming, fonts-droid-fallback); else reportlab's
built-in CID font STSong-Light, which is not embedded: PDF readers draw it with their own Song (宋体)
face (Adobe's Asian font pack, WPS, Foxit, pdf.js and poppler with poppler-data all have it).
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Optional

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFError, TTFont

log = logging.getLogger("xunjian.reports")

ENV = "XUNJIAN_REPORT_FONT"
CID_FALLBACK = "STSong-Light"
TRUETYPE_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/wqy-zenhei/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)


@dataclass(frozen=True)
class ReportFont:
    name: str      # the reportlab font name to draw with
    path: str      # the TrueType file, '' for the built-in CID font
    embedded: bool


def _truetype(path: str) -> Optional[ReportFont]:
    """The font at `path` registered for reportlab, or None when it is missing or not loadable
    (reportlab reads TrueType outlines only: OpenType/CFF files such as Noto CJK are refused)."""
    if not path or not os.path.isfile(path):
        return None
    name = f"Xunjian-{Path(path).stem}"
    try:
        ttf = TTFont(name, path, subfontIndex=0) if path.lower().endswith(".ttc") else TTFont(name, path)
    except (TTFError, OSError, ValueError) as e:
        log.warning("report font %s not usable: %s", path, e)
        return None
    pdfmetrics.registerFont(ttf)
    return ReportFont(name, path, True)


@lru_cache(maxsize=1)
def report_font() -> ReportFont:
    explicit = os.environ.get(ENV, "")
    if explicit:
        found = _truetype(explicit)
        if found is not None:
            return found
        log.warning("%s=%s cannot be used; falling back to the other fonts", ENV, explicit)
    for path in TRUETYPE_CANDIDATES:
        found = _truetype(path)
        if found is not None:
            return found
    log.info("no CJK TrueType font found: the PDF report uses the built-in %s (not embedded)", CID_FALLBACK)
    pdfmetrics.registerFont(UnicodeCIDFont(CID_FALLBACK))
    return ReportFont(CID_FALLBACK, "", False)
