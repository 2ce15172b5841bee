"""``python -m jupyter_tunnels.cli``: the same as the ``jupyter-tunnels`` command."""

from ._main import main

raise SystemExit(main())
