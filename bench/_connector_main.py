"""The connector process of the benchmark: one :class:`Connector` serving the origins.

Run as ``python _connector_main.py HUB_URL TOKEN_FILE NAME=PORT...``. It exposes each local
port as a public HTTP tunnel, prints ``{"loop": ..., "urls": {"NAME": "URL", ...}}`` as one
JSON line once every tunnel is active, and serves until SIGTERM or SIGINT, then closes
(releasing its lease).

This is ``jupyter-tunnels expose PORT --public`` with several ports in one process, as the
Jupyter server extension runs it; one process keeps the memory figures to one connector. It
runs on the event loop the CLI would choose (uvloop when installed, unless
``JUPYTER_TUNNELS_LOOP=asyncio``).
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

from jupyter_tunnels.connector import Connector

try:
    from jupyter_tunnels._core.loop import loop_name, run
except ImportError:  # a version without the uvloop choice: the standard loop

    def loop_name() -> str:
        """The loop :func:`run` uses."""
        return "asyncio"

    run = asyncio.run

CLIENT_INSTANCE_ID = "jupyter-tunnels-bench"


async def main(hub_url: str, token: str, targets: dict[str, int]) -> None:
    """Expose every target, print the URLs, serve until told to stop."""
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    connector = Connector(hub_url, token, client_instance_id=CLIENT_INSTANCE_ID)
    try:
        await connector.start()
        urls = {}
        for name, port in targets.items():
            tunnel = await connector.expose(
                port, name=f"bench-{name}", protocol="http", public=True
            )
            if tunnel.status.value != "active":
                raise SystemExit(f"tunnel {tunnel.name} is {tunnel.status.value}, not active")
            urls[name] = tunnel.url
        print(json.dumps({"loop": loop_name(), "urls": urls}), flush=True)
        await stopping.wait()
    finally:
        await connector.close()


if __name__ == "__main__":
    wanted = dict(arg.split("=", 1) for arg in sys.argv[3:])
    admin_token = Path(sys.argv[2]).read_text().strip()
    run(main(sys.argv[1], admin_token, {k: int(v) for k, v in wanted.items()}))
