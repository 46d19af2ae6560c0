"""Grader-side proxies: a hidden block runs in the grader, reaching student code only by data.

`run_hidden(code, kernel, names)` executes the instructor's hidden block in a fresh namespace of
the GRADER's process. Each name the notebook's answer cells bind becomes either the value itself
(plain data, fetched once) or a `RemoteObject` whose calls, attribute reads and item reads run
in the student's kernel; arguments and results cross as plain data only (`wire`). Nothing a
student defines ever executes in the grader.
"""
from __future__ import annotations

import builtins
import contextlib
import io
import json
import time

from . import wire
from .kernel import KernelDied, KernelProtocolError, RemoteError, SandboxedKernel


class BudgetExceeded(RuntimeError):
    """The submission's time budget ran out while its hidden tests were running."""


class RemoteObject:
    """An opaque reference to an object living in the student's kernel."""

    __slots__ = ("_session", "_target", "_label")

    def __init__(self, session: "RemoteSession", target: dict, label: str):
        object.__setattr__(self, "_session", session)
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_label", label)

    def _wire_ref(self) -> dict:
        if "handle" not in self._target:
            raise wire.WireError(f"cannot pass the student's {self._label} as an argument")
        return {"t": "handle", "id": self._target["handle"]}

    def __call__(self, *args, **kwargs):
        return self._session.op(self._target, "call", args=wire.encode(list(args)),
                                kwargs=wire.encode(dict(kwargs)))

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return self._session.op(self._target, "getattr", name=name)

    def __setattr__(self, name: str, value) -> None:
        self._session.op(self._target, "setattr", name=name, value=wire.encode(value))

    def __getitem__(self, key):
        return self._session.op(self._target, "getitem", key=wire.encode(key))

    def __len__(self) -> int:
        result = self._session.op(self._target, "len")
        if type(result) is not int:
            raise TypeError("len() of a student object did not return an int")
        return result

    def __iter__(self):
        result = self._session.op(self._target, "list")
        return iter(result if type(result) is list else [])

    def __repr__(self) -> str:
        return f"<student {self._label}>"


def _raise_remote(error: RemoteError):
    # A builtin exception type comes back as itself, so `except ValueError` in a hidden block
    # works as it does under plain nbgrader; any other type stays a RemoteError.
    cls = getattr(builtins, error.name, None)
    if isinstance(cls, type) and issubclass(cls, Exception) and cls not in (KeyboardInterrupt,):
        raise cls(str(error).split(": ", 1)[-1]) from None
    raise error


class RemoteSession:
    def __init__(self, kernel: SandboxedKernel, timeout: float, deadline: float | None = None):
        self.kernel = kernel
        self.timeout = timeout
        self.deadline = deadline     # time.monotonic() after which no request is sent
        self.fatal: BaseException | None = None   # kept even if a hidden block's `except` swallows it

    def _timeout(self) -> float:
        if self.deadline is None:
            return self.timeout
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise BudgetExceeded("time budget used up")
        return min(self.timeout, left)

    def request(self, payload: dict):
        try:
            return self.kernel.request(payload, timeout=self._timeout())
        except (KernelDied, KernelProtocolError, BudgetExceeded) as exc:
            self.fatal = self.fatal or exc
            raise

    def _decode(self, tree):
        def handle(node: dict) -> RemoteObject:
            label = node.get("type") if type(node.get("type")) is str else "object"
            return RemoteObject(self, {"handle": node["id"]}, f"{label[:40]} object")
        return wire.decode(tree, resolve_handle=handle)

    def op(self, target: dict, op: str, **fields):
        try:
            tree = self.request({"op": op, **target, **fields})
        except RemoteError as err:
            _raise_remote(err)
        return self._decode(tree)

    def namespace(self, names: set[str]) -> dict:
        """Proxies and fetched values for every answer name the kernel defines."""
        tree = self.request({"op": "describe", "names": sorted(names)})
        text = wire.decode(tree)
        info = json.loads(text) if type(text) is str else None
        if type(info) is not dict:
            raise RemoteError("ProtocolError", "malformed describe reply")
        ns = {}
        for name in names:
            entry = info.get(name)
            if type(entry) is not dict:
                continue
            if entry.get("kind") == "callable":
                ns[name] = RemoteObject(self, {"global": name}, f"function {name}")
            elif entry.get("kind") == "value":
                ns[name] = self._decode(entry.get("value"))
        return ns


def run_hidden(code: str, kernel: SandboxedKernel, names: set[str], timeout: float,
               filename: str = "<hidden tests>", deadline: float | None = None) -> tuple[bool, str]:
    """(passed, safe message). The message names the failure kind only, never hidden source.

    Raises KernelDied, KernelProtocolError and BudgetExceeded: the caller decides what follows.
    """
    session = RemoteSession(kernel, timeout, deadline)
    try:
        ns = session.namespace(names)
    except (RemoteError, wire.WireError, ValueError, RecursionError) as exc:
        return False, f"could not read the answers from the kernel ({type(exc).__name__})"
    ns.update(__name__="__hidden_tests__", __builtins__=builtins)
    sink = io.StringIO()
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            exec(compile(code, filename, "exec"), ns)
        if session.fatal is not None:
            raise session.fatal
    except (KernelDied, KernelProtocolError, BudgetExceeded) as exc:
        raise (session.fatal or exc) from None
    except wire.WireError:
        return False, "hidden tests: failed (your code returned something other than plain data)"
    except RemoteError as exc:
        return False, f"hidden tests: failed (your code raised {exc.name})"
    except Exception as exc:  # any instructor-side failure means "not passed"; say only its kind
        return False, f"hidden tests: failed ({type(exc).__name__})"
    return True, "hidden tests: passed"
