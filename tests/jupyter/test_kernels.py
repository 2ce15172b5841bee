"""Real kernels of a real jupyter-server using ``%tunnel``: tunnels belong to the server, so
every kernel sees them and they outlive the kernel that made them; and the quickstart
notebook, run cell by cell, serves its app through the URL it prints."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from jupyter_server.serverapp import ServerApp

from tests._apps import Services
from tests.jupyter._helpers import Fetch, start
from tests.jupyter._kernels import Kernel

QUICKSTART = Path(__file__).parents[2] / "notebooks" / "quickstart.ipynb"


def bearer(serverapp: ServerApp) -> dict[str, str]:
    """The server's token as a bearer: what a logged-in visitor of a private tunnel sends."""
    return {"Authorization": f"Bearer {serverapp.identity_provider.token}"}


async def test_a_tunnel_is_shared_by_kernels_and_survives_a_kernel_restart(
    jp_serverapp: ServerApp, jp_fetch: Fetch, services: Services
) -> None:
    await start(jp_serverapp)
    first = await Kernel.start(jp_serverapp)
    second = await Kernel.start(jp_serverapp)
    try:
        await first.run("%load_ext jupyter_tunnels")
        made = await first.run(
            f"t = %tunnel expose {services.http_port} --name shared\nprint(t.url)"
        )
        url = made.stdout.strip()
        assert url.endswith("/tunnels/t/shared/")

        await second.run("%load_ext jupyter_tunnels")
        listed = await second.run("%tunnel list")
        assert "shared" in listed.text and "active" in listed.text
        await second.run("panel = %tunnel panel")  # refreshes itself on the kernel's loop
        shown = await second.run("import asyncio\nawait asyncio.sleep(0.5)\nprint(repr(panel))")
        assert shown.stdout == "TunnelPanel(1 tunnels: shared)\n"
        fetched = await second.run(
            "import httpx, jupyter_tunnels\n"
            "token = jupyter_tunnels.connection().token\n"
            f"print(httpx.get({url!r}, headers={{'Authorization': f'Bearer {{token}}'}}).text)"
        )
        assert fetched.stdout == "hello from the app\n\n"

        await first.restart()
        async with httpx.AsyncClient(timeout=20) as visitor:
            page = await visitor.get(url, headers=bearer(jp_serverapp))
        assert page.text == "hello from the app\n"
        await first.run("%load_ext jupyter_tunnels")
        again = await first.run(f"t = %tunnel expose {services.http_port}\nprint(t.url)")
        assert again.stdout.strip() == url  # the same tunnel, not a second one
        every = json.loads((await jp_fetch("tunnels", "v1", "tunnels")).body)
        assert [tunnel["name"] for tunnel in every] == ["shared"]
    finally:
        await first.shutdown()
        await second.shutdown()


async def test_the_quickstart_notebook_prints_a_working_url(
    jp_serverapp: ServerApp, jp_fetch: Fetch
) -> None:
    # jp_fetch is what makes pytest-jupyter listen on the server's port
    await start(jp_serverapp)
    notebook = json.loads(QUICKSTART.read_text())
    cells = ["".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code"]
    kernel = await Kernel.start(jp_serverapp)
    try:
        printed: list[str] = []
        for source in cells:
            if source.startswith("%tunnel close"):
                # before the notebook closes its tunnel, a visitor opens the URL it printed
                url = next(line for line in printed if "/tunnels/t/" in line)
                async with httpx.AsyncClient(timeout=20) as visitor:
                    page = await visitor.get(url, headers=bearer(jp_serverapp))
                    stranger = await visitor.get(url)
                assert page.text == "<h1>Hello from a notebook</h1>\n"
                assert stranger.status_code == 401  # private: Jupyter's login is needed
            outputs = await kernel.run(source)
            printed += outputs.stdout.splitlines()
        assert "200 <h1>Hello from a notebook</h1>" in printed
    finally:
        await kernel.shutdown()
