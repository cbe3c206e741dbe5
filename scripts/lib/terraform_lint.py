#!/usr/bin/env python3
"""Offline lint of the Terraform under deploy/terraform (no Terraform binary, no provider).

Run by scripts/check-terraform.sh with a Python that has python-hcl2. Every directory holding
`.tf` files is one module; for each it checks that

  1. every `.tf` file parses (python-hcl2);
  2. every `variable` has a non-empty `description` and a `type`, and every `output` a
     `description`;
  3. every reference in an expression resolves to something declared in the module:
     `var.X` to a variable, `local.X` to a local, `data.T.N` to a data source, `module.N` (and
     `module.N.OUT`, for a local module, to one of its outputs) to a module call, `T.N` to a
     resource (T starting with a provider's name from required_providers, or `terraform_`);
  4. every call of a local module (`source = "./…"` or `"../…"`) passes each of its required
     variables (those without a default) and no argument that is not one of its variables;
  5. every `#checkov:skip=CKV…` comment gives its reason (`#checkov:skip=CKV_AWS_1:why`).

Prints one line per module and `terraform lint: N modules, N files, N references checked`;
each finding goes to stderr as `path:line: message`. Exits 1 on any finding, 2 on bad usage.

Usage: terraform_lint.py [ROOT]   (default: deploy/terraform)
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import hcl2

META_ARGUMENTS = {"source", "version", "count", "for_each", "providers", "depends_on"}
SKIP_COMMENT = re.compile(r"#\s*checkov:skip=([A-Za-z0-9_]*)(?::(.*))?")
# References in expression text with the string literals removed. A resource reference must
# not follow a dot or a word character (an attribute such as `x.aws_thing.y` is not one).
RE_VAR = re.compile(r"(?<![\w.])var\.([A-Za-z_][\w-]*)")
RE_LOCAL = re.compile(r"(?<![\w.])local\.([A-Za-z_][\w-]*)")
RE_DATA = re.compile(r"(?<![\w.])data\.([A-Za-z_][\w-]*)\.([A-Za-z_][\w-]*)")
RE_MODULE = re.compile(r"(?<![\w.])module\.([A-Za-z_][\w-]*)(?:\.([A-Za-z_][\w-]*))?")


def unquote(key: str) -> str:
    """python-hcl2 keeps block labels and string literals in their quotes."""
    if len(key) >= 2 and key[0] == '"' and key[-1] == '"':
        return key[1:-1]
    return key


@dataclass
class Module:
    """What one directory of `.tf` files declares, and the expressions it uses."""

    path: Path
    files: list[Path] = field(default_factory=list)
    variables: dict[str, dict] = field(default_factory=dict)
    outputs: dict[str, dict] = field(default_factory=dict)
    locals: set[str] = field(default_factory=set)
    resources: set[tuple[str, str]] = field(default_factory=set)
    data: set[tuple[str, str]] = field(default_factory=set)
    modules: dict[str, dict] = field(default_factory=dict)
    providers: set[str] = field(default_factory=set)
    # (file, block description, expression text) for every value in the module
    expressions: list[tuple[Path, str, str]] = field(default_factory=list)
    dynamic_names: set[str] = field(default_factory=set)


class Findings:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, path: Path, message: str, line: int | None = None) -> None:
        where = f"{path}:{line}" if line else str(path)
        self.items.append(f"{where}: {message}")


def line_of(path: Path, needle: str) -> int | None:
    """The first line of `path` containing `needle` (for pointing at a finding)."""
    for n, text in enumerate(path.read_text().splitlines(), 1):
        if needle in text:
            return n
    return None


def split_expression(text: str) -> tuple[str, list[str]]:
    """Splits HCL expression text into its code outside string literals (literals replaced by
    a blank) and the code of the interpolations (`${…}`) found inside those literals, which is
    itself expression text."""
    code: list[str] = []
    inner: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            i += 1
            while i < n and text[i] != '"':
                if text[i] == "\\":
                    i += 2
                    continue
                if text.startswith("${", i) or text.startswith("%{", i):
                    depth, j = 1, i + 2
                    in_str = False
                    while j < n and depth:
                        c = text[j]
                        if in_str:
                            if c == "\\":
                                j += 1
                            elif c == '"':
                                in_str = False
                        elif c == '"':
                            in_str = True
                        elif c == "{":
                            depth += 1
                        elif c == "}":
                            depth -= 1
                        j += 1
                    inner.append(text[i + 2 : j - 1])
                    i = j
                    continue
                i += 1
            code.append(' "" ')
            i += 1
            continue
        code.append(ch)
        i += 1
    return "".join(code), inner


def expression_code(value: str) -> list[str]:
    """Every piece of expression code in one python-hcl2 value string: a quoted template's
    interpolations, or a `${…}` expression (with the literals inside it split off again)."""
    pieces: list[str] = []
    todo = [value]
    while todo:
        text = todo.pop()
        if text.startswith("${") and text.endswith("}"):
            text = text[2:-1]
        elif not (text.startswith('"') and text.endswith('"')):
            # A bare word python-hcl2 kept unquoted (a type such as `string`, or `true`).
            pieces.append(text)
            continue
        code, inner = split_expression(text)
        pieces.append(code)
        todo.extend(inner)
    return pieces


def walk_values(node, found: list[str]) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            if k in ("__comments__", "__is_block__"):
                continue
            walk_values(v, found)
    elif isinstance(node, list):
        for v in node:
            walk_values(v, found)
    elif isinstance(node, str):
        found.append(node)


def collect_dynamic_names(node, names: set[str]) -> None:
    """Names of `dynamic "x"` blocks and their `iterator`s: `x.value` / `x.key` are iterators,
    not resources."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "dynamic" and isinstance(v, list):
                for block in v:
                    for label, body in block.items():
                        names.add(unquote(label))
                        if isinstance(body, dict) and "iterator" in body:
                            names.add(unquote(str(body["iterator"])).strip("${}"))
            collect_dynamic_names(v, names)
    elif isinstance(node, list):
        for v in node:
            collect_dynamic_names(v, names)


def load_module(path: Path, findings: Findings) -> Module | None:
    module = Module(path=path)
    ok = True
    for tf in sorted(path.glob("*.tf")):
        module.files.append(tf)
        try:
            with tf.open() as f:
                doc = hcl2.load(f)
        except Exception as e:  # python-hcl2 raises lark errors of several kinds
            findings.add(tf, f"does not parse: {str(e).splitlines()[0] if str(e) else type(e).__name__}")
            ok = False
            continue
        check_skip_comments(tf, findings)
        collect_dynamic_names(doc, module.dynamic_names)
        for block in doc.get("variable", []):
            for name, body in block.items():
                module.variables[unquote(name)] = body
                values: list[str] = []
                walk_values({k: v for k, v in body.items() if k not in ("type", "description")}, values)
                module.expressions += [(tf, f"variable {unquote(name)}", v) for v in values]
        for block in doc.get("output", []):
            for name, body in block.items():
                module.outputs[unquote(name)] = body
                values = []
                walk_values(body, values)
                module.expressions += [(tf, f"output {unquote(name)}", v) for v in values]
        for block in doc.get("locals", []):
            module.locals.update(k for k in block if not k.startswith("__"))
            values = []
            walk_values(block, values)
            module.expressions += [(tf, "locals", v) for v in values]
        for kind, target in (("resource", module.resources), ("data", module.data)):
            for block in doc.get(kind, []):
                for rtype, named in block.items():
                    for rname, body in named.items():
                        target.add((unquote(rtype), unquote(rname)))
                        values = []
                        walk_values(body, values)
                        label = f"{kind} {unquote(rtype)}.{unquote(rname)}"
                        module.expressions += [(tf, label, v) for v in values]
        for block in doc.get("module", []):
            for name, body in block.items():
                module.modules[unquote(name)] = body
                values = []
                walk_values({k: v for k, v in body.items() if k != "source"}, values)
                module.expressions += [(tf, f"module {unquote(name)}", v) for v in values]
        for block in doc.get("provider", []):
            for name, body in block.items():
                values = []
                walk_values(body, values)
                module.expressions += [(tf, f"provider {unquote(name)}", v) for v in values]
        for block in doc.get("terraform", []):
            for req in block.get("required_providers", []):
                module.providers.update(k for k in req if not k.startswith("__"))
    return module if ok else None


def check_skip_comments(tf: Path, findings: Findings) -> None:
    for n, text in enumerate(tf.read_text().splitlines(), 1):
        m = SKIP_COMMENT.search(text)
        if not m:
            continue
        check, reason = m.group(1), (m.group(2) or "").strip()
        if not re.fullmatch(r"CKV2?_[A-Z0-9]+_\d+", check):
            findings.add(tf, f"checkov skip names no check id: {text.strip()}", n)
        elif len(reason) < 10:
            findings.add(tf, f"checkov skip of {check} gives no reason (#checkov:skip={check}:why)", n)


def check_declarations(module: Module, findings: Findings) -> None:
    for name, body in module.variables.items():
        tf = next((f for f in module.files if f'variable "{name}"' in f.read_text()), module.path)
        line = line_of(tf, f'variable "{name}"') if tf.is_file() else None
        if not unquote(str(body.get("description", ""))).strip():
            findings.add(tf, f"variable {name} has no description", line)
        if "type" not in body:
            findings.add(tf, f"variable {name} has no type", line)
    for name, body in module.outputs.items():
        if not unquote(str(body.get("description", ""))).strip():
            tf = next((f for f in module.files if f'output "{name}"' in f.read_text()), module.path)
            findings.add(tf, f"output {name} has no description", line_of(tf, f'output "{name}"') if tf.is_file() else None)


def check_references(module: Module, modules: dict[Path, Module], findings: Findings) -> int:
    resource_prefixes = tuple(f"{p}_" for p in sorted(module.providers | {"terraform"}))
    re_resource = re.compile(r"(?<![\w.])([a-z][a-z0-9]*_[a-z0-9_]+)\.([A-Za-z_][\w-]*)")
    checked = 0
    for tf, where, value in module.expressions:
        for code in expression_code(value):
            for m in RE_VAR.finditer(code):
                checked += 1
                if m.group(1) not in module.variables:
                    findings.add(tf, f"{where}: var.{m.group(1)} is not a declared variable", line_of(tf, m.group(0)))
            for m in RE_LOCAL.finditer(code):
                checked += 1
                if m.group(1) not in module.locals:
                    findings.add(tf, f"{where}: local.{m.group(1)} is not a declared local", line_of(tf, m.group(0)))
            for m in RE_DATA.finditer(code):
                checked += 1
                if (m.group(1), m.group(2)) not in module.data:
                    findings.add(tf, f"{where}: data.{m.group(1)}.{m.group(2)} is not a declared data source", line_of(tf, m.group(0)))
            for m in RE_MODULE.finditer(code):
                checked += 1
                name, out = m.group(1), m.group(2)
                if name not in module.modules:
                    findings.add(tf, f"{where}: module.{name} is not a declared module call", line_of(tf, m.group(0)))
                    continue
                target = local_module_path(module, name)
                if out and target is not None and target in modules and out not in modules[target].outputs:
                    findings.add(tf, f"{where}: module.{name}.{out} is not an output of {target}", line_of(tf, m.group(0)))
            for m in re_resource.finditer(code):
                rtype, rname = m.group(1), m.group(2)
                if not rtype.startswith(resource_prefixes) or rtype in module.dynamic_names:
                    continue
                checked += 1
                if (rtype, rname) not in module.resources:
                    findings.add(tf, f"{where}: {rtype}.{rname} is not a declared resource", line_of(tf, m.group(0)))
    return checked


def local_module_path(module: Module, name: str) -> Path | None:
    source = unquote(str(module.modules[name].get("source", "")))
    if source.startswith("./") or source.startswith("../"):
        return (module.path / source).resolve()
    return None


def check_module_calls(module: Module, modules: dict[Path, Module], findings: Findings) -> None:
    for name, body in module.modules.items():
        tf = next((f for f in module.files if f'module "{name}"' in f.read_text()), module.path)
        line = line_of(tf, f'module "{name}"') if tf.is_file() else None
        target = local_module_path(module, name)
        if target is None:
            continue
        if target not in modules:
            findings.add(tf, f"module {name}: source {target} holds no loadable .tf files", line)
            continue
        callee = modules[target]
        passed = {k for k in body if not k.startswith("__")} - META_ARGUMENTS
        for arg in sorted(passed - set(callee.variables)):
            findings.add(tf, f"module {name}: {arg} is not a variable of {target}", line_of(tf, f"{arg} ") or line)
        required = {v for v, b in callee.variables.items() if "default" not in b}
        for missing in sorted(required - passed):
            findings.add(tf, f"module {name}: required input {missing} (no default in {target}) is not passed", line)


def main(argv: list[str]) -> int:
    if len(argv) > 2:
        print(__doc__, file=sys.stderr)
        return 2
    root = Path(argv[1] if len(argv) == 2 else "deploy/terraform")
    if not root.is_dir():
        print(f"terraform lint: {root} is not a directory", file=sys.stderr)
        return 2
    dirs = sorted({tf.parent.resolve() for tf in root.rglob("*.tf") if ".terraform" not in tf.parts})
    if not dirs:
        print(f"terraform lint: no .tf files under {root}", file=sys.stderr)
        return 1
    findings = Findings()
    modules: dict[Path, Module] = {}
    for d in dirs:
        m = load_module(d, findings)
        if m is not None:
            modules[d] = m
    checked = 0
    files = sum(len(list(d.glob("*.tf"))) for d in dirs)
    for d, m in modules.items():
        check_declarations(m, findings)
        checked += check_references(m, modules, findings)
        check_module_calls(m, modules, findings)
    for item in findings.items:
        print(item, file=sys.stderr)
    for d in dirs:
        rel = d.relative_to(Path.cwd()) if d.is_relative_to(Path.cwd()) else d
        state = "parsed" if d in modules else "FAILED to parse"
        m = modules.get(d)
        detail = (
            f"{len(m.variables)} variables, {len(m.resources)} resources, {len(m.data)} data sources, "
            f"{len(m.modules)} module calls, {len(m.outputs)} outputs"
            if m
            else ""
        )
        print(f"{rel}: {state} {detail}".rstrip())
    print(f"terraform lint: {len(dirs)} modules, {files} files, {checked} references checked, {len(findings.items)} findings")
    return 1 if findings.items else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
