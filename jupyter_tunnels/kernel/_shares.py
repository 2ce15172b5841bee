"""Share links in the kernel: :class:`SharedLink` (what ``%tunnel share`` returns) and
:class:`ShareList` (``%tunnel shares``), HTML in a notebook, stable text in a terminal."""

from __future__ import annotations

import html
from collections.abc import Iterable

from .._core.models import Share, ShareGrant
from .._core.share_text import share_created, share_table
from ._html import link, qr_svg

__all__ = ["ShareList", "SharedLink"]


class SharedLink:
    """A new share link: ``.url`` (None for a tcp tunnel), ``.token`` and ``.share`` (the model).

    The link is shown this once by the hub: keep it, or revoke the share and make another.
    """

    def __init__(self, grant: ShareGrant, tunnel_name: str) -> None:
        self.share = grant
        self.tunnel_name = tunnel_name

    @property
    def url(self) -> str | None:
        """The share link (the tunnel's URL with ``?share_token=``)."""
        return self.share.share_url

    @property
    def token(self) -> str:
        """The share token (``jts_…``)."""
        return self.share.token

    @property
    def id(self) -> str:
        """The share's id, to revoke it (``%tunnel unshare ID``)."""
        return self.share.id

    def __repr__(self) -> str:
        """The link and its limits, one fact a line."""
        return f"{self.tunnel_name} shared as {self.share.name!r}\n{share_created(self.share)}"

    def _repr_html_(self) -> str:
        """The link, a QR code of it, and its limits."""
        lines = [f"<strong>{_e(self.tunnel_name)}</strong> shared as {_e(self.share.name)!r}"]
        target = self.url
        lines.append(link(target) if target else f"<code>{_e(self.token)}</code>")
        rest = share_created(self.share).splitlines()[1:]
        lines += [f'<span style="opacity:0.7">{_e(line.strip())}</span>' for line in rest]
        qr = qr_svg(target) if target else ""
        return (
            '<div class="jupyter-tunnels-share" style="display:flex;gap:1em;align-items:center">'
            f"{qr}<div>{'<br>'.join(lines)}</div></div>"
        )


class ShareList(list[Share]):
    """A tunnel's shares, shown as a table."""

    def __init__(self, shares: Iterable[Share], tunnel_name: str) -> None:
        super().__init__(shares)
        self.tunnel_name = tunnel_name

    def __repr__(self) -> str:
        """An aligned table, or a sentence when there is none."""
        if not self:
            return f"{self.tunnel_name} has no share links (%tunnel share {self.tunnel_name})"
        return share_table(self)

    def _repr_html_(self) -> str:
        return f"<pre>{_e(repr(self))}</pre>"


def _e(text: str) -> str:
    return html.escape(text, quote=True)
