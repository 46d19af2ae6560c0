"""Kernel-side half of the grader's proxy protocol (runs inside the student's kernel).

The grader sends ``__import__("cnncourse.grading.agent").grading.agent.serve("<base64 json>")``;
`serve` performs one operation on the user namespace and publishes the result as display data
of MIME type `MIME`. Nothing here is trusted: a student may replace any of it, and the grader
accepts only plain data back (see `cnncourse.grading.wire`).
"""
from __future__ import annotations

import base64
import importlib
import json
import traceback

from . import wire

MIME = "application/x-cnncourse-wire+json"
_handles: dict[int, object] = {}


def _make_handle(value: object) -> dict:
    handle_id = id(value)
    _handles[handle_id] = value
    return {"t": "handle", "id": handle_id, "type": type(value).__name__,
            "callable": callable(value)}


def _resolve_function(node: dict):
    return getattr(importlib.import_module(node["module"]), node["name"])


def _target(request: dict, user_ns: dict):
    if "global" in request:
        return user_ns[request["global"]]
    return _handles[request["handle"]]


def _describe(names: list, user_ns: dict) -> dict:
    out = {}
    for name in names:
        if name not in user_ns:
            out[name] = {"kind": "missing"}
        elif callable(user_ns[name]):
            out[name] = {"kind": "callable", "type": type(user_ns[name]).__name__}
        else:
            out[name] = {"kind": "value", "value": wire.encode(user_ns[name], _make_handle)}
    return out


def _perform(request: dict, user_ns: dict):
    op = request["op"]
    if op == "describe":
        return {"t": "str", "v": json.dumps(_describe(request["names"], user_ns))}
    if op in ("watch", "unwatch"):  # count calls of an exercise's forbidden library names
        from . import forbidden
        return wire.encode(forbidden.watch(list(request["names"])) if op == "watch" else forbidden.unwatch())
    resolve = {"resolve_handle": lambda node: _handles[node["id"]],
               "resolve_function": _resolve_function}
    target = _target(request, user_ns)
    if op == "call":
        args = wire.decode(request["args"], **resolve)
        kwargs = wire.decode(request["kwargs"], **resolve)
        result = target(*args, **kwargs)
    elif op == "getattr":
        result = getattr(target, request["name"])
    elif op == "setattr":
        setattr(target, request["name"], wire.decode(request["value"], **resolve))
        result = None
    elif op == "getitem":
        result = target[wire.decode(request["key"], **resolve)]
    elif op == "len":
        result = len(target)
    elif op == "list":
        result = list(target)
    else:
        raise ValueError(f"unknown operation {op!r}")
    return wire.encode(result, _make_handle)


def serve(payload_b64: str) -> None:
    """Run one request and publish ``{"ok": tree}`` or ``{"error": [name, message]}``."""
    from IPython import get_ipython
    from IPython.display import publish_display_data

    request = json.loads(base64.b64decode(payload_b64))
    user_ns = get_ipython().user_ns
    try:
        reply = {"ok": _perform(request, user_ns)}
    except Exception as exc:  # the student's error travels back as data, by name
        reply = {"error": [type(exc).__name__, str(exc)[:2000],
                           "".join(traceback.format_exception_only(type(exc), exc))[-2000:]]}
    publish_display_data({MIME: json.dumps(reply)})
