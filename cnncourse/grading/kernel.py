"""A sandboxed IPython kernel driven cell by cell, with timeouts and byte-capped output.

`SandboxedKernel` starts ipykernel through `cnncourse.grading.sandbox` over the ipc (unix
socket) transport -- the kernel has no network -- and talks to it with jupyter_client's
blocking client. `execute(code)` returns a `CellRun`; a timeout or a dead kernel is reported
in it (``status="died"``) rather than raised, so the caller decides to restart and go on.
Output is counted in bytes as it arrives and dropped beyond the cap.
"""
from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import zmq
from jupyter_client import BlockingKernelClient
from jupyter_client.connect import write_connection_file

from . import sandbox, wire
from .agent import MIME


class KernelDied(RuntimeError):
    """The kernel died or ran past its timeout (and was killed) during a request."""


class RemoteError(Exception):
    """An exception raised by student code in the kernel, carried back by name and message."""

    def __init__(self, name: str, message: str):
        super().__init__(f"{name}: {message}")
        self.name = name


@dataclass
class CellRun:
    status: str                       # "ok", "error" or "died"
    outputs: list = field(default_factory=list)
    error: tuple[str, str] | None = None   # (ename, evalue) of an error
    traceback: str = ""
    truncated: bool = False
    seconds: float = 0.0
    reason: str = ""                  # why it died: "timeout", "kernel died", "memory"


_KERNEL_ENV_KEEP = ("PATH", "LANG", "LC_ALL", "TZ", "SYSTEMROOT")


def _kernel_env(workdir: Path) -> dict:
    env = {k: os.environ[k] for k in _KERNEL_ENV_KEEP if k in os.environ}
    env.update(HOME=str(workdir), TMPDIR=str(workdir), IPYTHONDIR=str(workdir / ".ipython"),
               MPLCONFIGDIR=str(workdir / ".mpl"), MPLBACKEND="Agg",
               PYTHONDONTWRITEBYTECODE="1", PYDEVD_DISABLE_FILE_VALIDATION="1",
               OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               TQDM_DISABLE="1", CNNCOURSE_GRADING="1")
    return env


def _die_with_parent() -> None:
    # Runs in the child before exec: if the grader dies (killed, timeout), the kernel goes too
    # (unshare --kill-child passes it on to the sandboxed kernel).
    import ctypes
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class SandboxedKernel:
    """One student's kernel. Use as a context manager; `restart()` after a death."""

    def __init__(self, workdir: Path, config: sandbox.SandboxConfig | None = None,
                 timeout: float = 30.0, output_cap: int = 64 * 1024, startup_timeout: float = 60.0,
                 cwd: Path | None = None):
        self.workdir = Path(workdir)
        self.cwd = Path(cwd) if cwd is not None else self.workdir
        self.config = config or sandbox.SandboxConfig(level="limits-only")
        self.timeout = timeout
        self.output_cap = output_cap
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen | None = None
        self.client: BlockingKernelClient | None = None
        self._stderr_path = self.workdir / ".kernel-stderr"

    # -- life cycle ---------------------------------------------------------------------
    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        tag = uuid.uuid4().hex[:8]
        conn_file = self.workdir / f".kernel-{tag}.json"
        # ipc sockets live in the working folder, the one place the sandboxed kernel can write.
        write_connection_file(str(conn_file), transport="ipc", ip=str(self.workdir / f".k{tag}"))
        sandbox.prepare_workdir(self.config, self.workdir)
        kernel_cmd = [sys.executable, "-m", "ipykernel_launcher", "-f", str(conn_file),
                      "--HistoryManager.enabled=False", "--IPKernelApp.trio_loop=False"]
        cmd = sandbox.wrap_command(self.config, kernel_cmd, self.workdir, cwd=self.cwd)
        with open(self._stderr_path, "ab") as stderr:
            self.proc = subprocess.Popen(cmd, env=_kernel_env(self.workdir), cwd=self.cwd,
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=stderr, start_new_session=True,
                                         preexec_fn=_die_with_parent)
        client = BlockingKernelClient(connection_file=str(conn_file))
        client.load_connection_file()
        client.start_channels()
        self.client = client
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if self.proc.poll() is not None:
                raise KernelDied(f"kernel failed to start (exit {self.proc.returncode}): "
                                 f"{self._stderr_tail()}")
            try:
                client.wait_for_ready(timeout=min(2.0, max(0.1, deadline - time.monotonic())))
                break
            except RuntimeError:
                if time.monotonic() > deadline:
                    self.shutdown()
                    raise KernelDied(f"kernel did not start in {self.startup_timeout:.0f} s")
        while client.iopub_channel.msg_ready():  # startup status chatter
            client.iopub_channel.get_msg(timeout=0)

    def _stderr_tail(self) -> str:
        try:
            return self._stderr_path.read_bytes()[-800:].decode(errors="replace")
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def shutdown(self) -> None:
        if self.client is not None:
            self.client.stop_channels()
            self.client = None
        if self.proc is not None:
            if self.proc.poll() is None:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.proc.wait()
            self.proc = None

    def restart(self) -> None:
        self.shutdown()
        self.start()

    def __enter__(self) -> "SandboxedKernel":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()

    # -- execution ----------------------------------------------------------------------
    def execute(self, code: str, timeout: float | None = None, capture_mime: str | None = None) -> CellRun:
        """Run `code`; never raises for student errors, timeouts or deaths (see CellRun)."""
        if not self.alive() or self.client is None:
            return CellRun("died", reason="kernel not running")
        timeout = self.timeout if timeout is None else timeout
        client = self.client
        start = time.monotonic()
        msg_id = client.execute(code, store_history=False, allow_stdin=False, stop_on_error=False)
        run = CellRun("ok")
        used = 0
        got_reply = got_idle = False
        poller = zmq.Poller()
        poller.register(client.iopub_channel.socket, zmq.POLLIN)
        poller.register(client.shell_channel.socket, zmq.POLLIN)
        deadline = start + timeout
        while not (got_reply and got_idle):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.shutdown()
                run.status, run.reason = "died", f"timeout after {timeout:.0f} s"
                break
            events = dict(poller.poll(timeout=min(remaining, 0.25) * 1000))
            if not events:
                if not self.alive():
                    run.status, run.reason = "died", self._death_reason()
                    self.shutdown()
                    break
                continue
            while client.shell_channel.msg_ready():
                reply = client.shell_channel.get_msg(timeout=0)
                if reply["parent_header"].get("msg_id") == msg_id:
                    got_reply = True
                    if reply["content"].get("status") == "error" and run.status == "ok":
                        run.status = "error"
                        run.error = (reply["content"].get("ename", "Error"),
                                     reply["content"].get("evalue", ""))
            while client.iopub_channel.msg_ready():
                msg = client.iopub_channel.get_msg(timeout=0)
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                used = self._collect(msg, run, used, capture_mime)
                if msg["msg_type"] == "status" and msg["content"].get("execution_state") == "idle":
                    got_idle = True
        run.seconds = time.monotonic() - start
        return run

    def _death_reason(self) -> str:
        tail = self._stderr_tail()
        if "MemoryError" in tail or "Cannot allocate memory" in tail:
            return "kernel died (memory limit)"
        code = self.proc.returncode if self.proc is not None else None
        return f"kernel died (exit status {code})"

    def _collect(self, msg: dict, run: CellRun, used: int, capture_mime: str | None) -> int:
        kind, content = msg["msg_type"], msg["content"]
        if kind == "error":
            run.status = "error"
            run.error = (content.get("ename", "Error"), content.get("evalue", ""))
            run.traceback = "\n".join(content.get("traceback", []))[-4000:]
            return used
        if kind == "display_data" and capture_mime and capture_mime in content.get("data", {}):
            run.outputs.append({"captured": content["data"][capture_mime]})
            return used
        if kind == "stream":
            text = content.get("text", "")
        elif kind in ("execute_result", "display_data"):
            text = content.get("data", {}).get("text/plain", f"<{kind}>")
        else:
            return used
        size = len(text.encode("utf-8", errors="replace"))
        room = self.output_cap - used
        if room <= 0:
            run.truncated = True
            return used + size
        if size > room:
            text = text.encode("utf-8", errors="replace")[:room].decode("utf-8", errors="ignore")
            run.truncated = True
        run.outputs.append({"name": content.get("name", kind), "text": text})
        return used + size

    # -- remote operations for the grader's proxies --------------------------------------
    def request(self, payload: dict, timeout: float | None = None):
        """Run one agent operation; returns the reply's wire tree or raises RemoteError/KernelDied."""
        encoded = base64.b64encode(json.dumps(payload).encode()).decode()
        run = self.execute(f'__import__("cnncourse.grading.agent").grading.agent.serve("{encoded}")',
                           timeout=timeout, capture_mime=MIME)
        if run.status == "died":
            raise KernelDied(run.reason)
        captured = [o["captured"] for o in run.outputs if "captured" in o]
        if not captured:
            name, message = run.error or ("RuntimeError", "no reply from the kernel")
            raise RemoteError(name, message)
        reply = wire.loads(captured[-1]) if isinstance(captured[-1], str) else None
        if type(reply) is not dict:
            raise RemoteError("ProtocolError", "malformed reply")
        if "error" in reply:
            err = reply["error"]
            if type(err) is not list or len(err) < 2 or not all(type(e) is str for e in err):
                raise RemoteError("ProtocolError", "malformed error reply")
            raise RemoteError(err[0], err[1])
        return reply.get("ok")
