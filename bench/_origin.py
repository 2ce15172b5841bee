"""The origins every path leads to: nginx for pages and the bulk file, plus ``_aux_origin.py``.

nginx (Debian's ``nginx-light``) runs with one worker, no access log, ``sendfile`` and
``tcp_nodelay`` on and unlimited keep-alive requests, serving a 1 KiB page and a bulk file
(256 MiB by default) from a temporary folder on 127.0.0.1.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

from _tools import Children, free_port, port_open, wait_until

__all__ = ["PAGE_PATH", "Origins", "start_origins"]

PAGE_PATH = "/page.html"
BULK_PATH = "/bulk.bin"
UPLOAD_PATH = "/upload"
PAGE_BYTES = 1024
STARTUP_TIMEOUT = 15.0
WRITE_CHUNK = 8 * 1024 * 1024

NGINX_CONF = """\
worker_processes 1;
daemon off;
master_process on;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{
    worker_connections 4096;
}}
http {{
    access_log off;
    sendfile on;
    tcp_nopush off;
    tcp_nodelay on;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    client_body_temp_path {work}/client_body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    types {{
        text/html html;
        application/octet-stream bin;
    }}
    server {{
        listen 127.0.0.1:{port};
        root {www};
        location / {{ }}
    }}
}}
"""


@dataclasses.dataclass(frozen=True)
class Origins:
    """Where the origins listen (all on 127.0.0.1) and what they serve."""

    web_port: int
    """nginx: ``PAGE_PATH`` (1 KiB) and ``BULK_PATH``."""
    upload_port: int
    """The upload sink: POST ``UPLOAD_PATH``; answers the number of body bytes read."""
    ws_port: int
    """The WebSocket echo server."""
    bulk_file: Path
    """The bulk file nginx serves, also the body the uploads send."""
    bulk_bytes: int


def _write_bulk_file(path: Path, size: int) -> None:
    """Write ``size`` bytes of a repeating non-zero pattern (real pages, not a sparse file)."""
    chunk = (bytes(range(256)) * (WRITE_CHUNK // 256))[:WRITE_CHUNK]
    with path.open("wb") as handle:
        left = size
        while left > 0:
            handle.write(chunk[: min(left, WRITE_CHUNK)])
            left -= WRITE_CHUNK


def start_origins(children: Children, work: Path, nginx: str, bulk_bytes: int) -> Origins:
    """Write nginx's files and configuration, start nginx and the aux origins."""
    www = work / "www"
    www.mkdir()
    (www / PAGE_PATH.lstrip("/")).write_bytes(b"x" * PAGE_BYTES)
    bulk_file = www / BULK_PATH.lstrip("/")
    _write_bulk_file(bulk_file, bulk_bytes)
    # nginx's workers run as an unprivileged user when the master runs as root.
    for path in (work, www):
        os.chmod(path, 0o755)
    for path in (www / PAGE_PATH.lstrip("/"), bulk_file):
        os.chmod(path, 0o644)

    web_port = free_port()
    conf = work / "nginx.conf"
    conf.write_text(NGINX_CONF.format(work=work, www=www, port=web_port))
    web = children.start(
        "nginx", [nginx, "-p", str(work), "-e", str(work / "nginx-error.log"), "-c", str(conf)]
    )
    wait_until(lambda: port_open(web_port), timeout=STARTUP_TIMEOUT, what="nginx", child=web)

    upload_port, ws_port = free_port(), free_port()
    script = Path(__file__).with_name("_aux_origin.py")
    aux = children.start(
        "aux-origin", [sys.executable, str(script), str(upload_port), str(ws_port)]
    )
    wait_until(
        lambda: port_open(upload_port) and port_open(ws_port),
        timeout=STARTUP_TIMEOUT,
        what="upload sink and WebSocket echo origin",
        child=aux,
    )
    return Origins(web_port, upload_port, ws_port, bulk_file, bulk_bytes)
