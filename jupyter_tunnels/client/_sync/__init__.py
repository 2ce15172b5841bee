# Generated from jupyter_tunnels/client/_async/__init__.py by scripts/unasync.py: do not edit.
# Change the async module, then run `python scripts/unasync.py`.
"""The client class and its methods, one module per group of API operations.

``_async/`` is written by hand; ``_sync/``, the blocking client, is generated from it by
``scripts/unasync.py``.
"""

from ._client import TunnelsClient

__all__ = ["TunnelsClient"]
