"""How to start a web app so that it works behind its tunnel: the recipes of ``run``.

Pure: a command line and its environment in, the command line and environment to start out
(:func:`prepare`), given where the app will listen and where visitors will be
(:class:`Placement`). ``%tunnel run``, ``jupyter_tunnels.run`` and ``jupyter-tunnels run`` all
use it; docs/apps.md has the same table.

The hub strips a tunnel's path prefix before the app sees a request (docs/apps.md), so an app
is given its public base path only through a setting that changes the URLs it writes and not
the paths it serves: Gradio's and uvicorn's root path, Dash's requests prefix, Voila's
``base_url`` with ``server_url=/``. Settings that move the app's routes under the prefix
(Streamlit's ``server.baseUrlPath``, TensorBoard's ``--path_prefix``, MLflow's
``--static-prefix``, Bokeh's and Panel's ``--prefix``) would make every request a 404, so
they are never set: Streamlit, TensorBoard and MLflow find their base from the page's own
address; Bokeh and Panel write absolute URLs and need a subdomain tunnel (a note says so).

Streamlit, Bokeh and Panel refuse a WebSocket whose ``Origin`` is not their own address, so
they are told the public host (``--browser.serverAddress``, ``--allow-websocket-origin``).

Every app, known or not, also gets ``PORT``, ``HOST`` and the ``JUPYTER_TUNNELS_*`` variables
below in its environment (an app not in the table reads those, or ``X-Forwarded-Prefix``).
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Mapping, Sequence

__all__ = [
    "PORT_ENV",
    "PREFIX_ENV",
    "RECIPES",
    "SECRET_ENV",
    "URL_ENV",
    "Launch",
    "Placement",
    "RecipeError",
    "detect",
    "prepare",
]

PORT_ENV = "PORT"
HOST_ENV = "HOST"
PREFIX_ENV = "JUPYTER_TUNNELS_PREFIX"
"""The tunnel's public path prefix without a trailing slash (empty on a subdomain)."""
URL_ENV = "JUPYTER_TUNNELS_URL"
"""The tunnel's public URL."""
SECRET_ENV = (
    "JUPYTER_TUNNELS_TOKEN",
    "JUPYTER_TUNNELS_SERVER_TOKEN",
    "JUPYTER_TOKEN",
    "JPY_API_TOKEN",
    "JUPYTERHUB_API_TOKEN",
)
"""Credentials of the hub, the Jupyter server and JupyterHub that the environment ``run``
starts from may hold: the app never gets them (it is exposed to visitors, and an error page
or a debugger that shows the environment would hand them control of the hub or of Jupyter)."""

_PYTHON = re.compile(r"^python(\d+(\.\d+)?)?(\.exe)?$")


class RecipeError(ValueError):
    """The command cannot be started as given (empty, or a recipe that does not fit it)."""


@dataclasses.dataclass(frozen=True)
class Placement:
    """Where the app listens and where its visitors are."""

    port: int
    """The local port the app must listen on."""
    public_url: str
    """The tunnel's URL, e.g. ``https://dash.hub.example`` or ``http://127.0.0.1:8765/t/dash/``."""
    host: str = "127.0.0.1"
    """The local address the app must listen on."""

    @property
    def prefix(self) -> str:
        """The public path prefix without its trailing slash: ``/t/dash``, or ``""``."""
        path = _split_url(self.public_url)[2]
        return path.rstrip("/")

    @property
    def public_host(self) -> str:
        """The visitors' ``host[:port]``, as a browser sends it in ``Origin``."""
        return _split_url(self.public_url)[1]

    @property
    def public_hostname(self) -> str:
        """The visitors' host name alone, without a port."""
        host = self.public_host
        if host.startswith("["):
            return host.partition("]")[0] + "]"
        return host.partition(":")[0]

    @property
    def public_port(self) -> int:
        """The visitors' port (443 or 80 when the URL names none)."""
        scheme, netloc, _ = _split_url(self.public_url)
        _, _, port = netloc.rpartition(":")
        if port.isdigit():
            return int(port)
        return 443 if scheme == "https" else 80


@dataclasses.dataclass(frozen=True)
class Launch:
    """What to start: the command line and the environment, and which recipe made them."""

    recipe: str
    """The recipe's name (``streamlit``, ...), or ``generic`` for an app not in the table."""
    argv: tuple[str, ...]
    env: dict[str, str]
    notes: tuple[str, ...] = ()
    """What the user should know (a limitation of this app behind this tunnel)."""


Recipe = Callable[[list[str], dict[str, str], Placement], tuple[str, ...]]
"""Adds to the command line (returned, a new list) and the environment (changed in place);
returns its notes. The list given starts at the app's own sub-command (see :func:`_insert_at`)."""


def prepare(
    argv: Sequence[str],
    env: Mapping[str, str],
    placement: Placement,
    *,
    app: str | None = None,
) -> Launch:
    """The command line and environment that start ``argv`` at ``placement``.

    :param argv: the user's command, e.g. ``["streamlit", "run", "app.py"]``.
    :param env: the environment it would have run with (not changed).
    :param app: a recipe's name, for commands it cannot be told from (``python app.py`` of a
        Dash or Gradio app); default: detected from the command (:func:`detect`).
    :raises RecipeError: an empty command, or an unknown ``app``.
    """
    if not argv:
        raise RecipeError("no command to run: give one after --, e.g. -- streamlit run app.py")
    if app is not None and app not in RECIPES:
        known = ", ".join(sorted(RECIPES))
        raise RecipeError(f"no recipe is called {app!r}: use one of {known}")
    name = app or detect(argv) or "generic"
    new_env = {name: value for name, value in env.items() if name not in SECRET_ENV}
    new_env.update(
        {
            PORT_ENV: str(placement.port),
            HOST_ENV: placement.host,
            PREFIX_ENV: placement.prefix,
            URL_ENV: placement.public_url,
        }
    )
    new_argv = list(argv)
    notes: tuple[str, ...] = ()
    if name in RECIPES:
        notes = RECIPES[name](new_argv, new_env, placement)
    return Launch(name, tuple(new_argv), new_env, notes)


def detect(argv: Sequence[str]) -> str | None:
    """The recipe for ``argv`` from its program: ``streamlit``, ``python -m streamlit``,
    ``/opt/venv/bin/bokeh``, ``mlflow ui`` ...; None when it is none of them."""
    program = _program(argv)
    if program is None:
        return None
    name, rest = program
    if name in ("bokeh", "panel"):
        return name if rest[:1] == ["serve"] else None
    if name == "mlflow":
        return name if rest[:1] in (["server"], ["ui"]) else None
    if name == "fastapi":
        return name if rest[:1] in (["run"], ["dev"]) else None
    return name if name in RECIPES and name != "dash" else None


def _program(argv: Sequence[str]) -> tuple[str, list[str]] | None:
    """The program's name and its arguments, looking through ``python [-X..] -m module``."""
    words = list(argv)
    first = os.path.basename(words[0])
    if not _PYTHON.match(first):
        return first, words[1:]
    rest = words[1:]
    while rest and rest[0].startswith("-") and rest[0] != "-m":
        rest = rest[1:]
    if len(rest) >= 2 and rest[0] == "-m":
        return rest[1].split(".")[0], rest[2:]
    return None


def _insert_at(argv: list[str], after: str, options: Sequence[str]) -> None:
    """Put ``options`` right after the first ``after`` word (the app's sub-command), so they
    come before the user's target and its own arguments; at the end if there is none."""
    position = argv.index(after) + 1 if after in argv else len(argv)
    argv[position:position] = options


def _streamlit(argv: list[str], env: dict[str, str], where: Placement) -> tuple[str, ...]:
    _insert_at(
        argv,
        "run",
        [
            "--server.port",
            str(where.port),
            "--server.address",
            where.host,
            "--server.headless",
            "true",
            "--browser.serverAddress",
            where.public_hostname,
            "--browser.serverPort",
            str(where.public_port),
        ],
    )
    return ()


def _gradio(argv: list[str], env: dict[str, str], where: Placement) -> tuple[str, ...]:
    env["GRADIO_SERVER_PORT"] = str(where.port)
    env["GRADIO_SERVER_NAME"] = where.host
    if where.prefix:
        env["GRADIO_ROOT_PATH"] = where.prefix
    return ()


def _dash(argv: list[str], env: dict[str, str], where: Placement) -> tuple[str, ...]:
    if where.prefix:  # Dash wants both to start and end with a slash
        env["DASH_REQUESTS_PATHNAME_PREFIX"] = where.prefix + "/"
        env["DASH_ROUTES_PATHNAME_PREFIX"] = "/"
    return ()


def _bokeh(argv: list[str], env: dict[str, str], where: Placement) -> tuple[str, ...]:
    # the list replaces Bokeh's default (its own address), which local checks still use
    _insert_at(
        argv,
        "serve",
        [
            "--port",
            str(where.port),
            "--address",
            where.host,
            "--allow-websocket-origin",
            where.public_host,
            "--allow-websocket-origin",
            f"{where.host}:{where.port}",
            "--allow-websocket-origin",
            f"localhost:{where.port}",
        ],
    )
    if not where.prefix:
        return ()
    return (
        f"{argv[0]} serve writes absolute URLs (/static/...), which miss the path prefix "
        f"{where.prefix}/ of this tunnel, and its --prefix would move its routes where the "
        "hub does not send them: use a hub with subdomains (--domain), see docs/apps.md",
    )


def _uvicorn(argv: list[str], env: dict[str, str], where: Placement) -> tuple[str, ...]:
    options = ["--port", str(where.port), "--host", where.host]
    if where.prefix:
        options += ["--root-path", where.prefix]
    argv.extend(options)
    return ()


def _fastapi(argv: list[str], env: dict[str, str], where: Placement) -> tuple[str, ...]:
    options = ["--port", str(where.port), "--host", where.host]
    if where.prefix:
        options += ["--root-path", where.prefix]
    verb = "run" if "run" in argv else "dev"
    _insert_at(argv, verb, options)
    return ()


def _tensorboard(argv: list[str], env: dict[str, str], where: Placement) -> tuple[str, ...]:
    argv.extend(["--port", str(where.port), "--host", where.host])
    return ()


def _mlflow(argv: list[str], env: dict[str, str], where: Placement) -> tuple[str, ...]:
    verb = "server" if "server" in argv else "ui"
    _insert_at(argv, verb, ["--port", str(where.port), "--host", where.host])
    return ()


def _voila(argv: list[str], env: dict[str, str], where: Placement) -> tuple[str, ...]:
    argv.extend([f"--port={where.port}", f"--Voila.ip={where.host}", "--no-browser"])
    if where.prefix:  # base_url: the URLs it writes; server_url: the paths it serves
        argv.extend([f"--Voila.base_url={where.prefix}/", "--Voila.server_url=/"])
    return ()


RECIPES: dict[str, Recipe] = {
    "bokeh": _bokeh,
    "dash": _dash,
    "fastapi": _fastapi,
    "gradio": _gradio,
    "mlflow": _mlflow,
    "panel": _bokeh,  # panel serve takes bokeh serve's options
    "streamlit": _streamlit,
    "tensorboard": _tensorboard,
    "uvicorn": _uvicorn,
    "voila": _voila,
}
"""The recipes by name; ``dash`` is chosen only by name (a Dash app is ``python app.py``)."""


def _split_url(url: str) -> tuple[str, str, str]:
    """``(scheme, netloc, path)`` of ``url`` (the path ``/`` when it has none)."""
    scheme, _, rest = url.partition("://")
    netloc, slash, path = rest.partition("/")
    return scheme.lower(), netloc, slash + path.split("?")[0] if slash else "/"
