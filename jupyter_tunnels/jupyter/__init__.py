"""The jupyter-server extension (``TunnelsApp``): the only place that imports Jupyter.

``jupyter_tunnels._jupyter_server_extension_points()`` loads it lazily, so importing
``jupyter_tunnels`` never imports jupyter_server.
"""

from __future__ import annotations

from ._app import TunnelsApp

__all__ = ["TunnelsApp"]
