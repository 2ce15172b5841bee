"""The recipes of ``run``: each app's command line and environment, with its real flag names."""

from __future__ import annotations

import pytest

from jupyter_tunnels._core.app_recipes import (
    PREFIX_ENV,
    SECRET_ENV,
    URL_ENV,
    Placement,
    RecipeError,
    detect,
    prepare,
)

PATH = Placement(8123, "http://127.0.0.1:8765/t/dash/")
"""A path-prefix tunnel of a standalone hub."""
SUBDOMAIN = Placement(8123, "https://dash.hub.example")
"""A subdomain tunnel on https."""


@pytest.mark.parametrize(
    ("argv", "recipe"),
    [
        (["streamlit", "run", "app.py"], "streamlit"),
        (["/opt/venv/bin/streamlit", "run", "app.py"], "streamlit"),
        (["python", "-m", "streamlit", "run", "app.py"], "streamlit"),
        (["python3.12", "-u", "-m", "streamlit", "run", "app.py"], "streamlit"),
        (["gradio", "app.py"], "gradio"),
        (["bokeh", "serve", "app.py"], "bokeh"),
        (["panel", "serve", "app.ipynb"], "panel"),
        (["uvicorn", "main:app"], "uvicorn"),
        (["fastapi", "run", "main.py"], "fastapi"),
        (["tensorboard", "--logdir", "runs"], "tensorboard"),
        (["mlflow", "ui"], "mlflow"),
        (["mlflow", "server"], "mlflow"),
        (["voila", "report.ipynb"], "voila"),
        (["bokeh", "info"], None),
        (["mlflow", "run", "."], None),
        (["python", "app.py"], None),
        (["python", "-m", "http.server"], None),
        (["node", "server.js"], None),
    ],
)
def test_the_recipe_is_found_from_the_program(argv: list[str], recipe: str | None) -> None:
    assert detect(argv) == recipe


def test_every_app_gets_the_port_and_the_prefix_in_its_environment() -> None:
    launch = prepare(["node", "server.js"], {"HOME": "/home/ada"}, PATH)
    assert launch.recipe == "generic"
    assert launch.argv == ("node", "server.js")
    assert launch.env["HOME"] == "/home/ada"
    assert launch.env["PORT"] == "8123"
    assert launch.env["HOST"] == "127.0.0.1"
    assert launch.env[PREFIX_ENV] == "/t/dash"
    assert launch.env[URL_ENV] == "http://127.0.0.1:8765/t/dash/"
    assert prepare(["node"], {}, SUBDOMAIN).env[PREFIX_ENV] == ""


def test_the_app_never_gets_the_hubs_or_jupyters_credentials() -> None:
    secrets = dict.fromkeys(SECRET_ENV, "secret")
    assert {"JUPYTER_TUNNELS_TOKEN", "JUPYTER_TOKEN", "JUPYTERHUB_API_TOKEN"} <= set(secrets)
    for argv in (["node", "server.js"], ["streamlit", "run", "app.py"], ["gradio", "app.py"]):
        env = prepare(argv, {**secrets, "APP_TOKEN": "its own"}, PATH).env
        assert not set(SECRET_ENV) & set(env), argv
        assert env["APP_TOKEN"] == "its own", "the app's own settings pass"


def test_streamlit_listens_on_the_port_headless_and_knows_the_public_host() -> None:
    launch = prepare(["streamlit", "run", "app.py", "--", "--data", "x"], {}, SUBDOMAIN)
    assert launch.argv == (
        "streamlit",
        "run",
        "--server.port",
        "8123",
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--browser.serverAddress",
        "dash.hub.example",
        "--browser.serverPort",
        "443",
        "app.py",
        "--",
        "--data",
        "x",
    )
    # its routes would move under server.baseUrlPath, which the hub strips: never set
    assert not any("baseUrlPath" in word for word in prepare(["streamlit", "run"], {}, PATH).argv)
    assert "8765" in prepare(["streamlit", "run", "a.py"], {}, PATH).argv


def test_gradio_reads_its_port_address_and_root_path_from_the_environment() -> None:
    env = prepare(["python", "app.py"], {}, PATH, app="gradio").env
    assert env["GRADIO_SERVER_PORT"] == "8123"
    assert env["GRADIO_SERVER_NAME"] == "127.0.0.1"
    assert env["GRADIO_ROOT_PATH"] == "/t/dash"
    assert "GRADIO_ROOT_PATH" not in prepare(["gradio", "app.py"], {}, SUBDOMAIN).env


def test_dash_writes_its_urls_under_the_prefix_and_serves_its_own_paths() -> None:
    launch = prepare(["python", "app.py"], {}, PATH, app="dash")
    assert launch.argv == ("python", "app.py")
    assert launch.env["PORT"] == "8123"
    assert launch.env["DASH_REQUESTS_PATHNAME_PREFIX"] == "/t/dash/"
    assert launch.env["DASH_ROUTES_PATHNAME_PREFIX"] == "/"
    assert "DASH_REQUESTS_PATHNAME_PREFIX" not in prepare(["x"], {}, SUBDOMAIN, app="dash").env


@pytest.mark.parametrize("program", ["bokeh", "panel"])
def test_bokeh_and_panel_allow_the_public_origin(program: str) -> None:
    launch = prepare([program, "serve", "app.py", "--show"], {}, SUBDOMAIN)
    assert launch.argv == (
        program,
        "serve",
        "--port",
        "8123",
        "--address",
        "127.0.0.1",
        "--allow-websocket-origin",
        "dash.hub.example",
        "--allow-websocket-origin",
        "127.0.0.1:8123",
        "--allow-websocket-origin",
        "localhost:8123",
        "app.py",
        "--show",
    )
    assert launch.notes == ()
    behind_a_path = prepare([program, "serve", "app.py"], {}, PATH)
    assert "--prefix" not in behind_a_path.argv
    assert "127.0.0.1:8765" in behind_a_path.argv
    assert "--domain" in behind_a_path.notes[0]


def test_uvicorn_gets_port_host_and_root_path() -> None:
    assert prepare(["uvicorn", "main:app", "--reload"], {}, PATH).argv == (
        "uvicorn",
        "main:app",
        "--reload",
        "--port",
        "8123",
        "--host",
        "127.0.0.1",
        "--root-path",
        "/t/dash",
    )
    assert "--root-path" not in prepare(["uvicorn", "main:app"], {}, SUBDOMAIN).argv


def test_the_fastapi_cli_gets_port_host_and_root_path_after_its_verb() -> None:
    assert prepare(["fastapi", "run", "main.py"], {}, PATH).argv == (
        "fastapi",
        "run",
        "--port",
        "8123",
        "--host",
        "127.0.0.1",
        "--root-path",
        "/t/dash",
        "main.py",
    )


def test_tensorboard_gets_port_and_host_but_no_path_prefix() -> None:
    assert prepare(["tensorboard", "--logdir", "runs"], {}, PATH).argv == (
        "tensorboard",
        "--logdir",
        "runs",
        "--port",
        "8123",
        "--host",
        "127.0.0.1",
    )


@pytest.mark.parametrize("verb", ["ui", "server"])
def test_mlflow_gets_port_and_host_after_its_verb(verb: str) -> None:
    argv = prepare(["mlflow", verb, "--backend-store-uri", "sqlite:///m.db"], {}, PATH).argv
    assert argv == (
        "mlflow",
        verb,
        "--port",
        "8123",
        "--host",
        "127.0.0.1",
        "--backend-store-uri",
        "sqlite:///m.db",
    )


def test_voila_writes_urls_under_the_prefix_and_serves_at_its_root() -> None:
    assert prepare(["voila", "report.ipynb"], {}, PATH).argv == (
        "voila",
        "report.ipynb",
        "--port=8123",
        "--Voila.ip=127.0.0.1",
        "--no-browser",
        "--Voila.base_url=/t/dash/",
        "--Voila.server_url=/",
    )
    assert prepare(["voila", "r.ipynb"], {}, SUBDOMAIN).argv[-1] == "--no-browser"


def test_the_placement_reads_the_public_url() -> None:
    assert (PATH.prefix, PATH.public_host, PATH.public_hostname, PATH.public_port) == (
        "/t/dash",
        "127.0.0.1:8765",
        "127.0.0.1",
        8765,
    )
    assert (SUBDOMAIN.prefix, SUBDOMAIN.public_host, SUBDOMAIN.public_port) == (
        "",
        "dash.hub.example",
        443,
    )
    assert Placement(1, "http://[::1]:9/x/").public_hostname == "[::1]"
    assert Placement(1, "http://h.example/user/ada/tunnels/t/d/").prefix == "/user/ada/tunnels/t/d"
    assert Placement(1, "http://h.example").public_port == 80


def test_an_empty_command_or_an_unknown_recipe_is_refused() -> None:
    with pytest.raises(RecipeError, match="no command to run"):
        prepare([], {}, PATH)
    with pytest.raises(RecipeError, match=r"no recipe is called 'flask'.*streamlit"):
        prepare(["python", "app.py"], {}, PATH, app="flask")
