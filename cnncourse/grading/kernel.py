"""A sandboxed IPython kernel driven cell by cell, with timeouts and byte-capped output.

`SandboxedKernel` starts ipykernel through `cnncourse.grading.sandbox` over the ipc (unix
socket) transport -- the kernel has no network -- and talks to it with jupyter_client's
blocking client. `execute(code)` returns a `CellRun`; a timeout or a dead kernel is reported
in it (``status="died"``) rather than raised, so the caller decides to restart and go on.

Nothing the kernel sends is trusted: every message is checked for its shape before use (a bad
one gives ``status="invalid"``), a message larger than `MAX_MESSAGE_BYTES` cuts the connection
(zmq's MAXMSGSIZE), output is counted in bytes as it arrives and dropped beyond the per-cell
cap and the per-kernel total, and error texts are cut to a fixed length.
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


class KernelProtocolError(RuntimeError):
    """The kernel sent a message of the wrong shape; the submission cannot be trusted further."""


class RemoteError(Exception):
    """An exception raised by student code in the kernel, carried back by name and message."""

    def __init__(self, name: str, message: str):
        super().__init__(f"{name}: {message}")
        self.name = name


@dataclass
class CellRun:
    status: str                       # "ok", "error", "died" or "invalid" (malformed message)
    outputs: list = field(default_factory=list)
    error: tuple[str, str] | None = None   # (ename, evalue) of an error
    traceback: str = ""
    truncated: bool = False
    seconds: float = 0.0
    reason: str = ""                  # why it died: "timeout", "kernel died", "memory"


_KERNEL_ENV_KEEP = ("PATH", "LANG", "LC_ALL", "TZ", "SYSTEMROOT")
MAX_MESSAGE_BYTES = 64 * 1024**2     # one zmq message from the kernel; larger cuts the connection
RECEIVE_QUEUE = 32                   # messages zmq queues for the grader before dropping
IDLE_GRACE = 2.0                     # seconds to wait for "idle" once the reply came (lost output)
MAX_NAME = 200                       # characters kept of an exception's name
MAX_ERROR_TEXT = 2000                # ... of its message
MAX_TRACEBACK = 4000                 # ... of its traceback
MAX_IMAGE = 512 * 1024               # base64 characters of one PNG output kept (feedback page)
MAX_IMAGES_TOTAL = 2 * 1024**2       # ... of every PNG output of one kernel together


def _text(value, limit: int) -> str:
    return value[:limit] if type(value) is str else ""


def message_problem(msg) -> str:
    """'' when `msg` (a deserialized kernel message) has the shape the grader relies on, else why not."""
    if type(msg) is not dict:
        return f"message is a {type(msg).__name__}, not a dict"
    if type(msg.get("parent_header")) is not dict or type(msg.get("msg_type")) is not str:
        return "message without a parent header or a type"
    content = msg.get("content")
    if type(content) is not dict:
        return f"{msg['msg_type'][:40]!r} message whose content is not a dict"
    kind = msg["msg_type"]
    str_fields = {"error": ("ename", "evalue"), "stream": ("name", "text"),
                  "status": ("execution_state",), "execute_reply": ("status",)}.get(kind, ())
    for name in str_fields:
        if name in content and type(content[name]) is not str:
            return f"{kind!r} message with a non-text {name!r}"
    if kind == "stream" and type(content.get("text")) is not str:
        return "'stream' message without text"
    if kind == "error" and "traceback" in content and (
            type(content["traceback"]) is not list or not all(type(x) is str for x in content["traceback"])):
        return "'error' message whose traceback is not a list of text"
    if kind == "execute_reply" and content.get("status") == "error":
        if not all(type(content.get(k, "")) is str for k in ("ename", "evalue")):
            return "'execute_reply' with a non-text error"
    if kind in ("execute_result", "display_data"):
        data = content.get("data")
        if type(data) is not dict or not all(type(k) is str for k in data):
            return f"{kind!r} message whose data is not a dict of text keys"
        if "text/plain" in data and type(data["text/plain"]) is not str:
            return f"{kind!r} message with non-text text/plain"
    return ""


def _kernel_env(workdir: Path) -> dict:
    env = {k: os.environ[k] for k in _KERNEL_ENV_KEEP if k in os.environ}
    env.update(HOME=str(workdir), TMPDIR=str(workdir), IPYTHONDIR=str(workdir / ".ipython"),
               MPLCONFIGDIR=str(workdir / ".mpl"),
               # the inline backend sends each figure as a PNG: the feedback page shows the plots
               MPLBACKEND="module://matplotlib_inline.backend_inline",
               PYTHONDONTWRITEBYTECODE="1", PYDEVD_DISABLE_FILE_VALIDATION="1",
               OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               TQDM_DISABLE="1", CNNCOURSE_GRADING="1", USER="student", LOGNAME="student")
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
                 cwd: Path | None = None, total_output_cap: int = 1024**2):
        self.workdir = Path(workdir)
        self.cwd = Path(cwd) if cwd is not None else self.workdir
        self.config = config or sandbox.SandboxConfig(level="limits-only")
        self.timeout = timeout
        self.output_cap = output_cap
        self.startup_timeout = startup_timeout
        self.total_output_cap = total_output_cap
        self.output_kept = 0            # bytes of output kept so far, over every cell
        self.images_kept = 0            # base64 characters of PNG outputs kept so far
        self.proc: subprocess.Popen | None = None
        self.client: BlockingKernelClient | None = None
        self._context: zmq.Context | None = None
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
        # A context of our own: every socket refuses messages over MAX_MESSAGE_BYTES and queues
        # at most RECEIVE_QUEUE of them, so a flooding kernel cannot grow the grader without bound.
        self._context = zmq.Context()
        self._context.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
        self._context.setsockopt(zmq.RCVHWM, RECEIVE_QUEUE)
        client = BlockingKernelClient(connection_file=str(conn_file), context=self._context)
        client.load_connection_file()
        client.start_channels(shell=True, iopub=True, stdin=False, hb=False)
        self.client = client
        try:
            self._wait_ready(client, time.monotonic() + self.startup_timeout)
        except KernelDied:
            self.shutdown()
            raise

    def _wait_ready(self, client: BlockingKernelClient, deadline: float) -> None:
        """Return once the kernel answers kernel_info on shell AND publishes on iopub.

        jupyter_client's wait_for_ready idles in steps of 0.2-1 s (heartbeats, a final iopub
        flush); here the sockets are polled, so a kernel is in use the moment it is ready.
        A message on iopub proves the subscription is live (no lost first output).
        """
        poller = zmq.Poller()
        poller.register(client.iopub_channel.socket, zmq.POLLIN)
        poller.register(client.shell_channel.socket, zmq.POLLIN)
        got_reply = got_iopub = False
        next_request = 0.0
        while not (got_reply and got_iopub):
            now = time.monotonic()
            if self.proc.poll() is not None:
                raise KernelDied(f"kernel failed to start (exit {self.proc.returncode}): "
                                 f"{self._stderr_tail()}")
            if now > deadline:
                raise KernelDied(f"kernel did not start in {self.startup_timeout:.0f} s")
            if now >= next_request:   # again later: its status messages prove iopub is live
                client.kernel_info()
                next_request = now + (0.2 if got_reply else 1.0)
            poller.poll(50)
            try:
                while client.shell_channel.msg_ready():
                    msg = client.shell_channel.get_msg(timeout=0)
                    if not message_problem(msg) and msg["msg_type"] == "kernel_info_reply":
                        got_reply = True
                while client.iopub_channel.msg_ready():
                    client.iopub_channel.get_msg(timeout=0)
                    got_iopub = True
            except Exception as exc:  # an undecodable message while starting: not a usable kernel
                raise KernelDied(f"kernel sent an undecodable message while starting ({type(exc).__name__})")

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
        if getattr(self, "_context", None) is not None:
            self._context.destroy(linger=0)
            self._context = None
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
        replied_at = None
        while not (got_reply and got_idle):
            remaining = deadline - time.monotonic()
            if got_reply and (time.monotonic() - replied_at > IDLE_GRACE or remaining <= 0):
                # The cell is done but its output stream is not: a message over MAX_MESSAGE_BYTES
                # cut the connection, or a flood overflowed the queue. What came is kept.
                run.truncated = True
                break
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
            try:
                while client.shell_channel.msg_ready():
                    reply = client.shell_channel.get_msg(timeout=0)
                    problem = message_problem(reply)
                    if problem:
                        return self._invalid(run, start, problem)
                    if reply["parent_header"].get("msg_id") == msg_id:
                        got_reply = True
                        replied_at = replied_at or time.monotonic()
                        if reply["content"].get("status") == "error" and run.status == "ok":
                            run.status = "error"
                            run.error = (_text(reply["content"].get("ename", "Error"), MAX_NAME),
                                         _text(reply["content"].get("evalue", ""), MAX_ERROR_TEXT))
                while client.iopub_channel.msg_ready():
                    msg = client.iopub_channel.get_msg(timeout=0)
                    problem = message_problem(msg)
                    if problem:
                        return self._invalid(run, start, problem)
                    if msg["parent_header"].get("msg_id") != msg_id:
                        continue
                    used = self._collect(msg, run, used, capture_mime)
                    if msg["msg_type"] == "status" and msg["content"].get("execution_state") == "idle":
                        got_idle = True
            except Exception as exc:  # jupyter_client could not even decode it (bad JSON, bad header)
                return self._invalid(run, start, f"undecodable message ({type(exc).__name__})")
        run.seconds = time.monotonic() - start
        return run

    def _invalid(self, run: CellRun, start: float, problem: str) -> CellRun:
        # The kernel is no longer trusted to frame its messages: stop it, report why.
        self.shutdown()
        run.status, run.reason = "invalid", f"malformed message from the kernel: {problem}"
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
            run.error = (_text(content.get("ename", "Error"), MAX_NAME),
                         _text(content.get("evalue", ""), MAX_ERROR_TEXT))
            run.traceback = "\n".join(content.get("traceback", []))[-MAX_TRACEBACK:]
            return used
        if kind == "display_data" and capture_mime and capture_mime in content["data"]:
            captured = content["data"][capture_mime]
            # only the last reply is kept: a kernel publishing many cannot pile them up here
            run.outputs[:] = [o for o in run.outputs if "captured" not in o]
            run.outputs.append({"captured": captured if type(captured) is str else None})
            return used
        if kind == "stream":
            text = content["text"]
        elif kind in ("execute_result", "display_data"):
            text = content["data"].get("text/plain", f"<{kind}>")
            png = content["data"].get("image/png")
            if type(png) is str and png:
                if len(png) <= MAX_IMAGE and self.images_kept + len(png) <= MAX_IMAGES_TOTAL:
                    self.images_kept += len(png)
                    run.outputs.append({"name": kind, "text": "", "png": png})
                    text = "" if text.startswith("<Figure") else text
                else:  # said in the text output, which the output caps bound
                    text = "[plot left out: over the size limit]\n"
                if not text:
                    return used
        else:
            return used
        size = len(text.encode("utf-8", errors="replace"))
        room = min(self.output_cap - used, self.total_output_cap - self.output_kept)
        if room <= 0:
            run.truncated = True
            return used + size
        if size > room:
            text = text.encode("utf-8", errors="replace")[:room].decode("utf-8", errors="ignore")
            run.truncated = True
        kept = len(text.encode("utf-8", errors="replace"))
        self.output_kept += kept
        run.outputs.append({"name": _text(content.get("name", kind), 40) or kind, "text": text})
        return used + size

    # -- remote operations for the grader's proxies --------------------------------------
    def request(self, payload: dict, timeout: float | None = None):
        """Run one agent operation; returns the reply's wire tree or raises RemoteError/KernelDied."""
        encoded = base64.b64encode(json.dumps(payload).encode()).decode()
        run = self.execute(f'__import__("cnncourse.grading.agent").grading.agent.serve("{encoded}")',
                           timeout=timeout, capture_mime=MIME)
        if run.status == "died":
            raise KernelDied(run.reason)
        if run.status == "invalid":
            raise KernelProtocolError(run.reason)
        captured = [o["captured"] for o in run.outputs if "captured" in o]
        if not captured:
            name, message = run.error or ("RuntimeError", "no reply from the kernel")
            raise RemoteError(name or "RuntimeError", message)
        try:
            reply = wire.loads(captured[-1]) if type(captured[-1]) is str else None
        except (ValueError, RecursionError):
            reply = None
        if type(reply) is not dict:
            raise RemoteError("ProtocolError", "malformed reply")
        if "error" in reply:
            err = reply["error"]
            if type(err) is not list or len(err) < 2 or not all(type(e) is str for e in err):
                raise RemoteError("ProtocolError", "malformed error reply")
            raise RemoteError(err[0][:MAX_NAME], err[1][:MAX_ERROR_TEXT])
        return reply.get("ok")
