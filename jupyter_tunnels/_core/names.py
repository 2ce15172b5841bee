"""Names, slugs and protocols derived from ports.

A tunnel created without a name is named after what usually listens on its port (5432 is
``postgres``, 8050 is ``dash``), and ``protocol: auto`` becomes ``tcp`` for ports whose
service does not speak HTTP.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
import string

__all__ = [
    "WELL_KNOWN_PORTS",
    "WellKnown",
    "default_name",
    "random_slug",
    "resolve_protocol",
    "slugify",
]


@dataclasses.dataclass(frozen=True)
class WellKnown:
    """What usually listens on a port."""

    name: str
    protocol: str
    """``http`` or ``tcp``."""
    scheme: str
    """The URL scheme of a connection string for it (``postgres``, ``redis``, ``http``)."""


WELL_KNOWN_PORTS: dict[int, WellKnown] = {
    22: WellKnown("ssh", "tcp", "ssh"),
    1433: WellKnown("mssql", "tcp", "mssql"),
    3000: WellKnown("app", "http", "http"),
    3306: WellKnown("mysql", "tcp", "mysql"),
    4040: WellKnown("spark-ui", "http", "http"),
    5000: WellKnown("flask", "http", "http"),
    5432: WellKnown("postgres", "tcp", "postgresql"),
    5601: WellKnown("kibana", "http", "http"),
    5672: WellKnown("rabbitmq", "tcp", "amqp"),
    6006: WellKnown("tensorboard", "http", "http"),
    6379: WellKnown("redis", "tcp", "redis"),
    7860: WellKnown("gradio", "http", "http"),
    8000: WellKnown("api", "http", "http"),
    8050: WellKnown("dash", "http", "http"),
    8080: WellKnown("web", "http", "http"),
    8265: WellKnown("ray-dashboard", "http", "http"),
    8501: WellKnown("streamlit", "http", "http"),
    8786: WellKnown("dask-scheduler", "tcp", "tcp"),
    8787: WellKnown("dask-dashboard", "http", "http"),
    8888: WellKnown("jupyter", "http", "http"),
    9000: WellKnown("minio", "http", "http"),
    9042: WellKnown("cassandra", "tcp", "tcp"),
    9092: WellKnown("kafka", "tcp", "tcp"),
    9200: WellKnown("elasticsearch", "http", "http"),
    11211: WellKnown("memcached", "tcp", "tcp"),
    11434: WellKnown("ollama", "http", "http"),
    27017: WellKnown("mongodb", "tcp", "mongodb"),
}
"""Ports whose usual service we know, with its name and protocol."""

SLUG_MAX_LENGTH = 32
RANDOM_SLUG_LENGTH = 8
_SLUG_ALPHABET = string.ascii_lowercase + string.digits
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def default_name(port: int) -> str:
    """Name a tunnel after its port: ``postgres`` for 5432, ``port-8123`` when unknown."""
    known = WELL_KNOWN_PORTS.get(port)
    return known.name if known else f"port-{port}"


def resolve_protocol(requested: str, port: int, *, hub_port: int | None = None) -> str:
    """Turn ``auto`` into ``tcp`` or ``http`` from the port; other protocols stay.

    Asking for a hub port asks for a raw port, so ``auto`` is then ``tcp`` whatever the port.
    """
    if requested != "auto":
        return requested
    if hub_port is not None:
        return "tcp"
    known = WELL_KNOWN_PORTS.get(port)
    return known.protocol if known else "http"


def slugify(name: str, *, max_length: int = SLUG_MAX_LENGTH) -> str:
    """Turn a name into a slug (``"My App!"`` → ``"my-app"``); empty if nothing is left."""
    slug = _NOT_SLUG.sub("-", name.lower()).strip("-")
    return slug[:max_length].rstrip("-")


def random_slug(length: int = RANDOM_SLUG_LENGTH) -> str:
    """A random slug of lower-case letters and digits."""
    return "".join(secrets.choice(_SLUG_ALPHABET) for _ in range(length))
