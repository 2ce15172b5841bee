"""The request head as the app receives it (``hub/ingress/_rewrite.py``): pure functions."""

from __future__ import annotations

import pytest

from jupyter_tunnels.hub.ingress._rewrite import app_host, forwarded_prefix


@pytest.mark.parametrize(
    ("target_host", "expected"),
    [
        ("127.0.0.1", b"127.0.0.1:8050"),
        ("localhost", b"localhost:8050"),
        ("::1", b"[::1]:8050"),
        ("[::1]", b"[::1]:8050"),
        ("fe80::1", b"[fe80::1]:8050"),
    ],
)
def test_the_app_gets_its_target_as_host(target_host: str, expected: bytes) -> None:
    assert app_host(target_host, 8050) == expected


def test_the_forwarded_prefix_keeps_its_escapes_and_escapes_the_rest() -> None:
    assert forwarded_prefix(b"/a%40b/tunnels/t/web") == b"/a%40b/tunnels/t/web"
    assert forwarded_prefix(b"/a b/tunnels/t/web") == b"/a%20b/tunnels/t/web"
