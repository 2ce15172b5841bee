"""A "laptop" in a network namespace of its own, linked to this one by a veth pair.

Partition tests need a link that can be taken down while both ends keep running, so that
packets vanish (no reset, no error) as when a laptop's Wi-Fi drops. The namespace's end of the
link is ``LAPTOP_ADDRESS``, this one's ``HUB_ADDRESS``: link-local addresses on a virtual link
inside this machine, so no packet can leave it. Needs root and iproute2 (``ip``); a test that
uses :func:`laptop` is skipped, saying why, where namespaces cannot be made.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import subprocess
from collections.abc import Iterator

import pytest

HUB_ADDRESS = "169.254.77.1"
"""This namespace's end of the link (a hub binds here)."""
LAPTOP_ADDRESS = "169.254.77.2"
"""The laptop's end of the link."""
PREFIX_LENGTH = 30


@dataclasses.dataclass(frozen=True)
class Laptop:
    """The namespace and its end of the link."""

    namespace: str
    link: str
    """The veth interface inside the namespace."""

    @property
    def run(self) -> tuple[str, ...]:
        """The command prefix that runs a program inside the namespace."""
        return ("ip", "netns", "exec", self.namespace)

    def link_down(self) -> None:
        """Take the laptop's link down: from now on its packets vanish both ways."""
        _ip(*self.run, "ip", "link", "set", "dev", self.link, "down")

    def link_up(self) -> None:
        """Bring the laptop's link back."""
        _ip(*self.run, "ip", "link", "set", "dev", self.link, "up")


def _ip(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=30)


@contextlib.contextmanager
def laptop() -> Iterator[Laptop]:
    """Make the namespace and the link (skip where that is not allowed); remove both after."""
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root (the test command runs as root in CI)")
    if shutil.which("ip") is None:
        pytest.skip("iproute2's ip is not installed")
    tag = f"jt{os.getpid() % 100_000}"
    namespace, here, there = f"{tag}-laptop", f"{tag}h", f"{tag}l"
    try:
        _ip("ip", "netns", "add", namespace)
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"cannot make a network namespace here: {exc.stderr.decode().strip()}")
    try:
        _ip("ip", "link", "add", here, "type", "veth", "peer", "name", there)
        _ip("ip", "link", "set", there, "netns", namespace)
        _ip("ip", "addr", "add", f"{HUB_ADDRESS}/{PREFIX_LENGTH}", "dev", here)
        _ip("ip", "link", "set", here, "up")
        inside = ("ip", "netns", "exec", namespace, "ip")
        _ip(*inside, "addr", "add", f"{LAPTOP_ADDRESS}/{PREFIX_LENGTH}", "dev", there)
        _ip(*inside, "link", "set", there, "up")
        _ip(*inside, "link", "set", "lo", "up")
        yield Laptop(namespace, there)
    finally:
        subprocess.run(("ip", "link", "del", here), capture_output=True, timeout=30, check=False)
        subprocess.run(
            ("ip", "netns", "del", namespace), capture_output=True, timeout=30, check=False
        )
