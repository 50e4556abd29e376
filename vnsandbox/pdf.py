"""What the sandbox's PDFs share (PayGov's receipts, the console's scorecard): the bundled
DejaVu Sans and text prepared for it.

The font ships with the foundation (``assets/DejaVuSans.ttf``, Bitstream Vera licence beside
it) so Vietnamese diacritics render on a machine without system fonts. fpdf2 itself is imported
by whoever draws, inside the function that draws: it takes longer to import than a process to
start.
"""

from __future__ import annotations

import logging
import unicodedata
from pathlib import Path
from typing import Any

#: DejaVu Sans, whose glyphs cover Vietnamese.
DEJAVU_SANS = Path(__file__).parent / "assets" / "DejaVuSans.ttf"

# fontTools logs every subsetting step at INFO; a PDF needs none of it.
logging.getLogger("fontTools").setLevel(logging.WARNING)


def pdf_text(value: Any) -> str:
    """Text for a PDF: NFC, so each Vietnamese letter is one precomposed glyph of the font."""
    return unicodedata.normalize("NFC", "" if value is None else str(value))
