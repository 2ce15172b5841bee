"""HTML pieces the kernel's displays share: a link that is safe to open, a QR code."""

from __future__ import annotations

import html

__all__ = ["QR_SCALE", "link", "qr_svg"]

QR_SCALE = 3
"""Pixels per QR module: about 100 px wide for a typical tunnel URL."""


def link(url: str) -> str:
    """A link that opens in a new tab and tells the page nothing about the notebook.

    Addresses a browser cannot open (``tcp://``, ``reach://``) are shown as code.
    """
    if not url.startswith(("http://", "https://")):
        return f"<code>{_e(url)}</code>"
    return f'<a href="{_e(url)}" target="_blank" rel="noopener noreferrer">{_e(url)}</a>'


def qr_svg(url: str) -> str:
    """An inline SVG QR code of ``url``, or nothing when segno (the ``jupyter`` extra) is absent."""
    try:
        import segno
    except ImportError:  # the QR code is a convenience: the link is still there
        return ""
    svg: str = segno.make(url, error="m").svg_inline(scale=QR_SCALE, title=url)
    return svg


def _e(text: str) -> str:
    return html.escape(text, quote=True)
