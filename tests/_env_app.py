"""A tiny app for ``run``'s tests: it serves back the environment ``run`` gave it.

``python tests/_env_app.py`` listens on ``$HOST:$PORT`` and answers every GET with JSON:
``{"pid", "port", "prefix", "url", "path", "forwardedPrefix", "argv", "secrets"}`` (the
names of the ``*_TOKEN`` variables it got). ``--exit-after SECONDS``
makes it exit with code 3 that long after it started listening; ``--never-listen`` makes it
print a line and sleep without listening.
"""

from __future__ import annotations

import http.server
import json
import os
import sys
import threading
import time

CRASH_CODE = 3


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps(
            {
                "pid": os.getpid(),
                "port": os.environ.get("PORT"),
                "prefix": os.environ.get("JUPYTER_TUNNELS_PREFIX"),
                "url": os.environ.get("JUPYTER_TUNNELS_URL"),
                "path": self.path,
                "forwardedPrefix": self.headers.get("X-Forwarded-Prefix"),
                "argv": sys.argv[1:],
                "secrets": sorted(name for name in os.environ if name.endswith("_TOKEN")),
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main() -> None:
    print(f"env app starting (pid {os.getpid()})", flush=True)
    if "--never-listen" in sys.argv:
        time.sleep(3600)
    if "--exit-after" in sys.argv:
        delay = float(sys.argv[sys.argv.index("--exit-after") + 1])
        threading.Timer(delay, lambda: os._exit(CRASH_CODE)).start()
    server = http.server.ThreadingHTTPServer(
        (os.environ["HOST"], int(os.environ["PORT"])), _Handler
    )
    print(f"env app listening on {os.environ['PORT']}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
