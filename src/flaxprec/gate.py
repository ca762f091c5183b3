"""The ``ast`` gate: which top-level statements of a file could hold a finding.

libcst is the judge, but it parses ~10x slower than ``ast`` and its analysis costs more again. The gate
sketches every call of a file while the ``ast`` summary is built (resolved callee, keyword names,
positional count, enclosing Module), and later, with the whole project index known, marks a top-level
statement as *suspect* when one of its calls might be reported. Only suspect statements (plus the
file's imports and module-level assignments, and one-line stubs that keep the other names bound) are
parsed and analysed by libcst.

The gate is conservative by construction: a call is cleared only when every rule provably stays silent
on it (it passes ``dtype`` by keyword, passes ``param_dtype`` as the module's own field or float32, has
no positional argument at a dtype index...). Anything it does not understand is suspect. A property
test and the real corpus check that it never clears a statement the full analysis flags.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

from flaxprec.imports import ImportMap, resolve_relative
from flaxprec.project import NNX_PARAM_NAMES, ProjectIndex, dotted_name
from flaxprec.suppress import split_lines

PARTIAL = "functools.partial"
FP16_MAX = 65504.0
INFINITY_NAMES = frozenset({"inf", "Inf", "infty", "PINF", "NINF"})
# What the gate understands, by rule: a rule whose ``gate`` is one of these lets the engine skip the
# statements that the matching predicate clears.
GATES = frozenset({"calls", "params", "huge-constants"})
OPAQUE = ""  # a callee that is a local, non-alias name: never a layer for the analysis either


@dataclass(frozen=True)
class CallSketch:
    callee: str | None  # qualified name, "partial:<qualified>" for a partial alias, None if unresolvable
    keywords: tuple[str, ...]  # "**" for a ``**kwargs`` argument
    positional: int
    starred: bool
    param_value: (
        str | None
    )  # the ``param_dtype=`` value when simple ("self.param_dtype", "jax.numpy.float32")
    first: str | None  # qualified name of the first positional argument (for functools.partial)
    owner: str | None  # qualname of the class whose method (or nested function) holds the call
    self_param: bool  # ``<first parameter of the method>.param(...)``


@dataclass(frozen=True)
class StatementSketch:
    start: int  # first line, decorators included
    end: int
    kind: str  # "class", "def" or "other"
    name: str | None
    calls: tuple[CallSketch, ...]
    attend: bool  # a ``.attend(`` call: tied embeddings are judged across statements
    huge_constant: bool = False  # a literal beyond float16's range, or an infinity (FLX106)
    bases: tuple[str, ...] = ()  # a class's bases as written (same-file inheritance of params, FLX007)


def sketch(tree: ast.Module, imports: ImportMap, module_name: str) -> tuple[StatementSketch, ...]:
    """Sketch every top-level statement of a parsed file."""
    aliases = _module_aliases(tree, imports, module_name)
    statements = []
    for stmt in tree.body:
        start = min([stmt.lineno, *(d.lineno for d in getattr(stmt, "decorator_list", []))])
        kind = "class" if isinstance(stmt, ast.ClassDef) else "other"
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            kind = "def"
        walker = _CallWalker(aliases, module_name)
        walker.visit(stmt)
        bases = tuple(filter(None, map(dotted_name, stmt.bases))) if isinstance(stmt, ast.ClassDef) else ()
        statements.append(
            StatementSketch(
                start=start,
                end=stmt.end_lineno or stmt.lineno,
                kind=kind,
                name=getattr(stmt, "name", None),
                calls=tuple(walker.calls),
                attend=walker.attend,
                huge_constant=walker.huge_constant,
                bases=bases,
            )
        )
    return tuple(statements)


def _module_aliases(tree: ast.Module, imports: ImportMap, module_name: str) -> dict[str, str]:
    """Module-level names: imports, classes, and ``X = dotted`` / ``X = partial(dotted, ...)`` aliases."""
    aliases = dict(imports.bindings)
    for stmt in tree.body:
        if isinstance(stmt, ast.ClassDef):
            aliases[stmt.name] = f"{module_name}.{stmt.name}"
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            aliases[stmt.name] = OPAQUE
    resolver = _Scope(aliases, None)
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            aliases[stmt.targets[0].id] = resolver.alias_value(stmt.value) or OPAQUE
    return aliases


class _Scope:
    def __init__(self, bindings: dict[str, str], parent: _Scope | None) -> None:
        self.bindings = bindings
        self.parent = parent

    def lookup(self, name: str) -> str | None:
        scope: _Scope | None = self
        while scope is not None:
            if name in scope.bindings:
                return scope.bindings[name]
            scope = scope.parent
        return None

    def resolve(self, node: ast.expr) -> str | None:
        name = dotted_name(node)
        if name is None:
            return None
        head, _, rest = name.partition(".")
        target = self.lookup(head)
        if not target:
            return None
        if target.startswith("partial:"):
            return None if rest else target
        return f"{target}.{rest}" if rest else target

    def alias_value(self, value: ast.expr) -> str | None:
        """What ``X = value`` makes ``X``: a qualified name, a partial of one, or None."""
        if isinstance(value, ast.Call):
            if self.resolve(value.func) == PARTIAL and value.args:
                inner = self.resolve(value.args[0])
                return f"partial:{inner}" if inner else None
            return None
        return self.resolve(value)


def _import_bindings(node: ast.Import | ast.ImportFrom, module_name: str) -> dict[str, str]:
    """What a function-level import binds (the analysis resolves those imports too)."""
    local = ImportMap()
    if isinstance(node, ast.Import):
        for alias in node.names:
            local.add_import(alias.name, alias.asname)
    else:
        source = resolve_relative(module_name, False, node.level, node.module)
        for alias in node.names:
            if source is not None and alias.name != "*":
                local.add_from(source, alias.name, alias.asname)
    return local.bindings


def _bound_names(function: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> set[str]:
    args = function.args
    names = {a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)}
    names |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
    if isinstance(function, ast.Lambda):
        return names
    for node in _own_nodes(function):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
    return names


def _own_nodes(function: ast.AST) -> Iterator[ast.AST]:
    """Nodes of a function body, not descending into nested functions, lambdas or classes."""
    stack = list(ast.iter_child_nodes(function))
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            stack.extend(ast.iter_child_nodes(node))


class _CallWalker(ast.NodeVisitor):
    def __init__(self, aliases: dict[str, str], module_name: str) -> None:
        self.scope = _Scope(aliases, None)
        self.module_name = module_name
        self.calls: list[CallSketch] = []
        self.attend = False
        self.huge_constant = False
        self.classes: list[str] = []
        # (class qualname, method's first parameter) of the innermost class whose method we are in
        self.owner: tuple[str, str | None] | None = None
        self.depth_in_class = 0

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for child in (*node.decorator_list, *node.bases, *node.keywords):
            self.visit(child)
        self.classes.append(node.name)
        saved_owner, saved_scope = self.owner, self.scope
        self.owner = None
        # Methods see the class body's aliases here (Python would not): more suspects, never fewer.
        self.scope = _Scope({}, saved_scope)
        for stmt in node.body:
            if (
                isinstance(stmt, ast.Assign)
                and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Name)
            ):
                self.scope.bindings[stmt.targets[0].id] = self.scope.alias_value(stmt.value) or OPAQUE
        for stmt in node.body:
            self.visit(stmt)
        self.owner, self.scope = saved_owner, saved_scope
        self.classes.pop()

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        saved_owner, saved_scope = self.owner, self.scope
        if self.owner is None and self.classes:
            params = [*node.args.posonlyargs, *node.args.args]
            qualname = ".".join([self.module_name, *self.classes])
            self.owner = (qualname, params[0].arg if params else None)
        bindings: dict[str, str] = dict.fromkeys(_bound_names(node), OPAQUE)
        self.scope = _Scope(bindings, saved_scope)
        if not isinstance(node, ast.Lambda):
            for sub in _own_nodes(node):
                if (
                    isinstance(sub, ast.Assign)
                    and len(sub.targets) == 1
                    and isinstance(sub.targets[0], ast.Name)
                ):
                    value = self.scope.alias_value(sub.value)
                    if value:
                        bindings[sub.targets[0].id] = value
                elif isinstance(sub, (ast.Import, ast.ImportFrom)):
                    bindings.update(_import_bindings(sub, self.module_name))
        body = node.body if isinstance(node.body, list) else [node.body]
        for child in (*getattr(node, "decorator_list", []), node.args, *body):
            self.visit(child)
        self.owner, self.scope = saved_owner, saved_scope

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function
    visit_Lambda = _function

    def visit_Constant(self, node: ast.Constant) -> None:
        value = node.value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            self.huge_constant |= abs(value) >= FP16_MAX
        elif isinstance(value, str):
            self.huge_constant |= value.strip().lstrip("+-").lower() in ("inf", "infinity")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self.huge_constant |= node.attr in INFINITY_NAMES
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "attend":
            self.attend = True
        owner, self_name = self.owner or (None, None)
        name = dotted_name(func)
        self_param = bool(self_name) and name == f"{self_name}.param"
        param_value = None
        for keyword in node.keywords:
            if keyword.arg == "param_dtype":
                param_value = self._simple_value(keyword.value)
        self.calls.append(
            CallSketch(
                callee=self.scope.resolve(func),
                keywords=tuple(k.arg or "**" for k in node.keywords),
                positional=sum(1 for a in node.args if not isinstance(a, ast.Starred)),
                starred=any(isinstance(a, ast.Starred) for a in node.args),
                param_value=param_value,
                first=self.scope.resolve(node.args[0]) if node.args else None,
                owner=owner,
                self_param=self_param,
            )
        )
        self.generic_visit(node)

    def _simple_value(self, value: ast.expr) -> str | None:
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            return f"'{value.value}'"
        name = dotted_name(value)
        if name is None:
            return None
        return self.scope.resolve(value) or name


def suspect(statement: StatementSketch, index: ProjectIndex) -> bool:
    """Could any call of this statement be reported? (Conservative: unsure means yes.)"""
    return any(_suspect_call(call, index) for call in statement.calls)


def _suspect_call(call: CallSketch, index: ProjectIndex) -> bool:
    callee = call.callee
    if call.self_param:
        return call.positional >= 4 or "dtype" in call.keywords or call.starred or "**" in call.keywords
    if not callee:
        return False
    if callee.startswith("partial:"):
        return True
    if callee in NNX_PARAM_NAMES:
        return True
    if callee == PARTIAL:
        spec = _spec(call.first, index) if call.first else None
        return spec is not None
    spec = _spec(callee, index)
    if spec is None:
        return False
    if call.starred or "**" in call.keywords:
        return True
    indices = [i for i in (spec.dtype_index, spec.param_dtype_index) if i is not None]
    if indices and call.positional > min(indices):
        return True
    if "param_dtype" in call.keywords and not _safe_param_value(call.param_value):
        return True
    if call.owner is None:
        return False
    facts = index.facts(call.owner)
    if facts is None:
        return False
    if spec.has_dtype and "dtype" not in call.keywords:
        return True
    return spec.has_param_dtype and "param_dtype" not in call.keywords and facts.declares("param_dtype")


def _spec(qualified: str, index: ProjectIndex):
    spec = index.catalogue.lookup(qualified)
    if spec is None:
        facts = index.facts(qualified)
        if facts is not None and (facts.takes_dtype or facts.takes_param_dtype):
            spec = facts.as_layer_spec()
    return spec


def _safe_param_value(value: str | None) -> bool:
    """``param_dtype`` values no rule reports: the module's own field, or float32."""
    if value is None:
        return False
    return value.endswith("param_dtype") or value.endswith(".float32") or value in ("'float32'",)


@dataclass(frozen=True)
class Slice:
    """The part of a file libcst reads: its text, and the original line of each of its lines (1-based)."""

    text: str
    lines: tuple[int, ...]


def plan(
    statements: tuple[StatementSketch, ...], index: ProjectIndex, gates: frozenset[str] = frozenset({"calls"})
) -> set[int] | None:
    """Indexes of the suspect top-level statements for the selected rules' ``gates``; None: whole file."""
    if any(statement.attend for statement in statements):
        return None  # tied embeddings: a lookup in one class decides a finding in another
    chosen: set[int] = set()
    if "calls" in gates:
        chosen |= {i for i, statement in enumerate(statements) if suspect(statement, index)}
    if "huge-constants" in gates:
        chosen |= {i for i, statement in enumerate(statements) if statement.huge_constant}
    if "params" in gates:
        chosen |= _param_classes(statements)
    return chosen


def _param_classes(statements: tuple[StatementSketch, ...]) -> set[int]:
    """Classes that create parameters by hand, and every same-file class inheriting from one (FLX007).

    The analysis carries a class's ``self.X = self.param(...)`` attributes into its subclasses in the
    same file, so a subclass without a ``self.param`` of its own can still combine an inherited one.
    """
    creates = {
        statement.name
        for statement in statements
        if statement.kind == "class"
        and any(c.self_param or c.callee in NNX_PARAM_NAMES for c in statement.calls)
    }
    changed = True
    while changed:
        changed = False
        for statement in statements:
            inherits = any(base.split(".")[-1] in creates for base in statement.bases)
            if statement.kind == "class" and statement.name not in creates and inherits:
                creates.add(statement.name)
                changed = True
    return {i for i, s in enumerate(statements) if s.kind == "class" and s.name in creates}


def slice_source(text: str, statements: tuple[StatementSketch, ...], suspects: set[int]) -> Slice:
    """Imports and other module-level statements, the suspect definitions whole, stubs for the rest.

    Stubs (``class Name: pass``) keep every top-level name bound as in the full file, so resolution in
    the slice is the same; they hold no call, so they cannot produce a finding.
    """
    source_lines = split_lines(text)
    out: list[str] = []
    origin: list[int] = []
    groups: list[list[int]] = []
    for i, statement in enumerate(statements):  # statements sharing a line (``a; b``) go together
        if groups and statement.start <= statements[groups[-1][-1]].end:
            groups[-1].append(i)
        else:
            groups.append([i])
    for group in groups:
        members = [statements[i] for i in group]
        whole = any(m.kind == "other" or i in suspects for i, m in zip(group, members, strict=True))
        if whole:
            first, last = members[0].start, max(m.end for m in members)
            out.extend(source_lines[first - 1 : last])
            origin.extend(range(first, last + 1))
            if out and not out[-1].endswith(("\n", "\r")):
                out[-1] += "\n"
        else:
            for member in members:
                out.append(
                    f"class {member.name}: pass\n"
                    if member.kind == "class"
                    else f"def {member.name}(): pass\n"
                )
                origin.append(member.start)
    return Slice("".join(out), tuple(origin))
