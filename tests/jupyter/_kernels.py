"""Real IPython kernels started by the test's jupyter-server, and code run in them.

The kernels are ipykernel processes launched by the server's own kernel manager, so they get
``JPY_PARENT_PID`` (the server is this test process) and the server's runtime directory, and
find the extension the way a user's kernel does.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from jupyter_server.serverapp import ServerApp

KERNEL = "python3"
EXECUTE_TIMEOUT = 45.0


@dataclasses.dataclass
class Outputs:
    """What a cell produced."""

    stdout: str = ""
    stderr: str = ""
    results: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    """``execute_result`` and ``display_data`` bundles, in order."""
    error: str | None = None
    """``ename: evalue`` when the cell raised."""

    @property
    def text(self) -> str:
        """The ``text/plain`` of every result, one per line."""
        return "\n".join(str(bundle.get("text/plain", "")) for bundle in self.results)


class Kernel:
    """One kernel of the server, driven over its ZMQ channels."""

    def __init__(self, serverapp: ServerApp, kernel_id: str) -> None:
        self.serverapp = serverapp
        self.id = kernel_id
        self.client: Any = None

    @classmethod
    async def start(cls, serverapp: ServerApp) -> Kernel:
        """Start a kernel through the server's kernel manager and wait until it answers."""
        kernel_id = await serverapp.kernel_manager.start_kernel(kernel_name=KERNEL)
        kernel = cls(serverapp, kernel_id)
        await kernel._connect()
        return kernel

    async def _connect(self) -> None:
        manager = self.serverapp.kernel_manager.get_kernel(self.id)
        self.client = manager.client()
        self.client.start_channels()
        await self.client.wait_for_ready(timeout=EXECUTE_TIMEOUT)

    async def run(self, code: str, *, check: bool = True) -> Outputs:
        """Execute ``code``; its outputs. Raises AssertionError if it failed and ``check``."""
        outputs = Outputs()
        msg_id = self.client.execute(code)
        deadline = asyncio.get_running_loop().time() + EXECUTE_TIMEOUT
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            message = await self.client.get_iopub_msg(timeout=max(remaining, 0.1))
            if message["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = message["msg_type"], message["content"]
            if kind == "stream":
                if content["name"] == "stdout":
                    outputs.stdout += content["text"]
                else:
                    outputs.stderr += content["text"]
            elif kind in ("execute_result", "display_data"):
                outputs.results.append(content["data"])
            elif kind == "error":
                outputs.error = f"{content['ename']}: {content['evalue']}"
            elif kind == "status" and content["execution_state"] == "idle":
                break
        if check and outputs.error is not None:
            raise AssertionError(f"the cell failed: {outputs.error}\n{outputs.stderr}")
        return outputs

    async def restart(self) -> None:
        """Restart the kernel (a new process, the same kernel id) and reconnect."""
        self.client.stop_channels()
        # jupyter_server leaves restart_kernel untyped
        await self.serverapp.kernel_manager.restart_kernel(self.id)  # type: ignore[no-untyped-call]
        await self._connect()

    async def shutdown(self) -> None:
        """Stop the kernel."""
        if self.client is not None:
            self.client.stop_channels()
        # jupyter_server leaves shutdown_kernel untyped
        await self.serverapp.kernel_manager.shutdown_kernel(self.id, now=True)  # type: ignore[no-untyped-call]
