"""The ``jupyter-tunnels`` command line (also ``jupyter tunnels``): a thin shell over the library.

``hub`` and ``demo`` run a standalone hub in the foreground, ``token create`` adds an owner to
a hub's store, and ``list``, ``info``, ``close`` and ``health`` talk to a running hub through
:class:`~jupyter_tunnels.TunnelsClient`. Failures are one line on stderr
(``jupyter-tunnels: error: ...``) with exit code 1; bad usage exits with 2.
"""

from ._main import main

__all__ = ["main"]
