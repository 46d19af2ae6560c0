"""Use of library names an exercise forbids ("implement im2col" must not call `cnncourse.conv.im2col`).

An answer cell declares them as ``metadata.cnncourse.forbidden`` (dotted names, written by
`authoring.answer(..., forbidden=...)`). The grader looks for them twice:

- `static_uses(source, names)` (grader process): imports, attribute chains through imported
  modules, ``getattr(module, "name")``, ``importlib.import_module("...")``, ``__import__``,
  ``sys.modules["..."]`` with string constants, and the dotted name written as a string.
- `watch(names)` / `unwatch()` (student's kernel, driven by the grader's agent while the
  exercise's hidden block runs): each forbidden function -- and every function of a forbidden
  class or module -- gets its code swapped for a trampoline that counts the call and runs the
  original, so a call through any reference the student kept (an alias taken before, a
  `getattr` built at run time, code that only does it when it detects the grader) is seen.

The run-time watch lives in the student's kernel and is only as strong as the student's
restraint there: code that rewrites the agent or copies a function's `__code__` beforehand
escapes it. The static check and the feedback page make such code visible to a TA.
"""
from __future__ import annotations

import ast
import importlib
import types
from typing import Sequence

# -- static check (grader side) ------------------------------------------------------------

# The grader's own kernel-side machinery: an answer that reaches for it in an exercise with
# forbidden names is trying to switch the run-time watch off, and is flagged like a use.
GRADER_INTERNALS = ("cnncourse.grading.forbidden", "cnncourse.grading.agent")


def _const_str(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


class _Resolver:
    """Dotted names that expressions of one cell stand for, through its imports and aliases."""

    def __init__(self, tree: ast.AST):
        self.aliases: dict[str, str] = {}
        self.tree = tree
        for _ in range(4):  # aliases of aliases: a few passes reach a fixed point
            before = dict(self.aliases)
            for node in ast.walk(tree):
                self._bind(node)
            if self.aliases == before:
                break

    def _bind(self, node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    self.aliases[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    self.aliases[top] = top
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                if alias.name != "*":
                    self.aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.NamedExpr)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            resolved = self.resolve(node.value)
            if resolved:
                for target in targets:
                    if isinstance(target, ast.Name):
                        self.aliases[target.id] = resolved

    def resolve(self, node: ast.AST) -> str | None:
        if isinstance(node, ast.Name):
            if node.id in self.aliases:
                return self.aliases[node.id]
            return {"getattr": "builtins.getattr", "__import__": "builtins.__import__"}.get(node.id)
        if isinstance(node, ast.Attribute):
            base = self.resolve(node.value)
            return f"{base}.{node.attr}" if base else None
        if isinstance(node, ast.Subscript):
            base = self.resolve(node.value)
            key = _const_str(node.slice)
            if base == "sys.modules" and key:
                return key
            return None
        if isinstance(node, ast.Call) and node.args:
            func = self.resolve(node.func)
            first = _const_str(node.args[0])
            if func == "builtins.getattr" and len(node.args) >= 2:
                base, name = self.resolve(node.args[0]), _const_str(node.args[1])
                return f"{base}.{name}" if base and name else None
            if func == "importlib.import_module" and first:
                return first
            if func == "builtins.__import__" and first:
                fromlist = len(node.args) >= 4 or any(k.arg == "fromlist" for k in node.keywords)
                return first if fromlist else first.split(".")[0]
        return None


def _matches(dotted: str, forbidden: Sequence[str]) -> str | None:
    for name in forbidden:
        if dotted == name or dotted.startswith(name + "."):
            return name
    return None


def static_uses(source: str, forbidden: Sequence[str]) -> list[str]:
    """One line per use of a forbidden name in `source` ("line 3: from cnncourse.conv import im2col")."""
    if not forbidden:
        return []
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []  # the cell fails when it runs; nothing to analyse
    resolver = _Resolver(tree)
    found: dict[tuple[int, str], str] = {}

    def note(node: ast.AST, name: str) -> None:
        segment = ast.get_source_segment(source, node) or name
        segment = " ".join(segment.split())
        found.setdefault((getattr(node, "lineno", 0), name),
                         f"line {getattr(node, 'lineno', '?')}: {segment[:80]} (uses {name})")

    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                if alias.name == "*":
                    hit = next((f for f in forbidden if f.rsplit(".", 1)[0] == node.module
                                or f.startswith(node.module + ".")), None)
                else:
                    hit = _matches(f"{node.module}.{alias.name}", forbidden)
                if hit:
                    note(node, hit)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                hit = _matches(alias.name, forbidden)
                if hit:
                    note(node, hit)
        elif isinstance(node, (ast.Attribute, ast.Call, ast.Subscript)):
            resolved = resolver.resolve(node)
            hit = _matches(resolved, forbidden) if resolved else None
            if hit:
                note(node, hit)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            hit = _matches(node.value, forbidden)
            if hit:
                note(node, hit)
    return [found[k] for k in sorted(found)]


# -- run-time watch (student's kernel) -------------------------------------------------------

_HOOK = "__cnncourse_forbidden_call__"
_state: dict = {"armed": False, "hits": {}, "patched": []}


def resolve_name(dotted: str):
    """The object a dotted name stands for: the longest importable module prefix, then attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(f"no module for {dotted}")


def _functions(obj, label: str, depth: int = 0) -> list[tuple[str, types.FunctionType]]:
    if isinstance(obj, types.FunctionType):
        return [(label, obj)]
    if isinstance(obj, (staticmethod, classmethod)):
        return _functions(obj.__func__, label, depth)
    if isinstance(obj, property):
        return [f for part in (obj.fget, obj.fset, obj.fdel) if part is not None
                for f in _functions(part, label, depth)]
    if depth > 2:
        return []
    if isinstance(obj, type):
        return [f for name, member in vars(obj).items() for f in _functions(member, label, depth + 1)]
    if isinstance(obj, types.ModuleType):
        return [f for name, member in vars(obj).items()
                if isinstance(member, (types.FunctionType, type))
                and getattr(member, "__module__", None) == obj.__name__
                for f in _functions(member, label, depth + 1)]
    return []


def _trampoline(n_free: int, key: int) -> types.CodeType:
    # Same number of free variables as the original, so it can replace func.__code__ in place.
    free = [f"_free{i}" for i in range(n_free)]
    lines = ["def _outer():"] + [f"    {v} = None" for v in free] + ["    def _t(*args, **kwargs):"]
    if free:
        lines.append(f"        if kwargs is None: ({', '.join(free)},)")
    lines += [f"        return {_HOOK}({key}, args, kwargs)", "    return _t"]
    namespace: dict = {}
    exec(compile("\n".join(lines), "<cnncourse forbidden-name watch>", "exec"), namespace)
    return namespace["_outer"]().__code__


def _call(key: int, args: tuple, kwargs: dict):
    label, _func, _code, clone = _state["patched"][key]
    if _state["armed"]:
        _state["hits"][label] = _state["hits"].get(label, 0) + 1
    return clone(*args, **kwargs)


def watch(names: list[str]) -> dict:
    """Start counting calls of `names`; returns {"unknown": [...], "unwatchable": [...]}."""
    unwatch()
    unknown, unwatchable = [], []
    for dotted in names:
        try:
            obj = resolve_name(dotted)
        except (ImportError, AttributeError):
            unknown.append(dotted)
            continue
        functions = _functions(obj, dotted)
        if not functions:
            unwatchable.append(dotted)
        for label, func in functions:
            if any(entry[1] is func for entry in _state["patched"]):
                continue
            code = func.__code__
            clone = types.FunctionType(code, func.__globals__, func.__name__, func.__defaults__,
                                       func.__closure__)
            clone.__kwdefaults__ = func.__kwdefaults__
            key = len(_state["patched"])
            func.__globals__[_HOOK] = _call
            func.__code__ = _trampoline(len(code.co_freevars), key)
            _state["patched"].append((label, func, code, clone))
    _state["hits"] = {}
    _state["armed"] = True
    return {"unknown": unknown, "unwatchable": unwatchable}


def unwatch() -> dict:
    """Stop watching, put every original function back; returns {"hits": {name: calls}}."""
    hits = dict(_state["hits"])
    _state["armed"] = False
    for _label, func, code, _clone in _state["patched"]:
        func.__code__ = code
        func.__globals__.pop(_HOOK, None)
    _state["patched"] = []
    _state["hits"] = {}
    return {"hits": hits}
