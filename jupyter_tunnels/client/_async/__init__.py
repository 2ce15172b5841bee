"""The client class and its methods, one module per group of API operations.

``_async/`` is written by hand; ``_sync/``, the blocking client, is generated from it by
``scripts/unasync.py``.
"""

from ._client import AsyncTunnelsClient

__all__ = ["AsyncTunnelsClient"]
