"""``c.TunnelsApp`` settings are checked when they are set: a bad value is refused with a
message that names the setting, its rule and its default, before any server starts."""

from __future__ import annotations

import math
from typing import Any

import pytest
from traitlets import TraitError

from jupyter_tunnels.hub import DEFAULT_HEAD_TIMEOUT, DEFAULT_MAX_UNFINISHED_HEADS
from jupyter_tunnels.jupyter._app import TunnelsApp


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("head_timeout", 0.0, "positive, finite number of seconds"),
        ("head_timeout", -1.0, "positive, finite number of seconds"),
        ("head_timeout", math.nan, "positive, finite number of seconds"),
        ("head_timeout", math.inf, "positive, finite number of seconds"),
        ("max_unfinished_heads", 0, "at least 1"),
        ("lease_ttl", 0.5, "at least 1 second"),
    ],
)
def test_a_bad_setting_is_refused_with_its_rule(setting: str, value: Any, message: str) -> None:
    with pytest.raises((TraitError, ValueError), match=message) as refused:
        TunnelsApp(**{setting: value})
    if setting != "lease_ttl":
        assert f"c.TunnelsApp.{setting}" in str(refused.value)


def test_the_slow_head_settings_default_to_the_hubs() -> None:
    app = TunnelsApp()
    assert app.head_timeout == DEFAULT_HEAD_TIMEOUT
    assert app.max_unfinished_heads == DEFAULT_MAX_UNFINISHED_HEADS
    tuned = TunnelsApp(head_timeout=2.5, max_unfinished_heads=8)
    assert (tuned.head_timeout, tuned.max_unfinished_heads) == (2.5, 8)
