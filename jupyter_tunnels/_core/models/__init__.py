"""Every API model (pydantic), camelCase on the wire, shared by the hub, the SDK and the UIs.

Request models refuse unknown fields; answer models tolerate them (a newer hub may add some).
"""

from __future__ import annotations

from .base import *  # noqa: F403
from .base import __all__ as __all__
