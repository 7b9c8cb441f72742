"""Read a region-graph YAML file safely and remember where every key was written.

Later validation reports ``file:line`` for a bad key, so loading keeps a map from key path to
line. Loading is hardened against hostile or careless files: only plain YAML types, no duplicate
keys, bounded alias expansion, bounded nesting, bounded file size, one document per file.
"""
from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping, Sequence

import yaml
from yaml.events import AliasEvent, MappingStartEvent, SequenceStartEvent
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

try:
    from yaml._yaml import CParser
except ImportError:   # pragma: no cover - PyYAML without libyaml
    CParser = None

from cortex.errors import SpecError

MAX_BYTES = 1 << 20     # 1 MiB: a region graph is hand-written; anything bigger is a mistake.
MAX_DEPTH = 64          # nested lists/mappings: far beyond any real spec, far below Python's stack.
MAX_NODES = 100_000     # values after expanding aliases and merges: stops "billion laughs".
TOP_LEVEL = "the top level must be a mapping of keys like name, inputs, regions"
_Y = "tag:yaml.org,2002:"
_SCALARS = {_Y + t for t in ("str", "int", "float", "bool", "null", "timestamp", "value")}
_AS_TEXT = {_Y + "timestamp", _Y + "value"}   # dates stay the text written: plain types only
_TOO_DEEP = f"nesting is deeper than {MAX_DEPTH} levels"


class _Composing:
    """Composer hooks shared by both loaders: bounded nesting and size, alias lines, cached tag resolution.

    Composition stops at the first value past :data:`MAX_NODES` (so a huge file costs the same as one just
    over the limit), and plain scalars are resolved once per distinct text (a long list repeats itself).
    """

    def _setup(self, file: str) -> None:
        self.file, self.depth, self.alias_lines, self.written, self._tags = file, 0, {}, 0, {}

    def resolve(self, kind, value, implicit):
        if kind is not ScalarNode:
            return super().resolve(kind, value, implicit)
        key = (value, implicit)
        tag = self._tags.get(key)
        if tag is None:
            tag = self._tags[key] = super().resolve(kind, value, implicit)
        return tag

    def compose_node(self, parent, index):
        if self.check_event(AliasEvent):   # `- *x` reports the alias's line, not the anchor's
            if isinstance(index, int):
                self.alias_lines[(id(parent), index)] = self.peek_event().start_mark.line + 1
            return Composer.compose_node(self, parent, index)
        self.written += 1
        if self.written > MAX_NODES:       # written out, not expanded: this is the file's own size
            raise SpecError(f"the file holds more than {MAX_NODES} values; a region graph needs far fewer "
                            "(is a list or mapping far too long?)", file=self.file,
                            line=self.peek_event().start_mark.line + 1)
        nested = self.check_event(SequenceStartEvent, MappingStartEvent)
        self.depth += nested
        try:
            if self.depth > MAX_DEPTH:     # the composer recurses: refuse before the stack does
                raise SpecError(_TOO_DEEP, file=self.file, line=self.peek_event().start_mark.line + 1)
            return Composer.compose_node(self, parent, index)
        finally:
            self.depth -= nested


class _Resolver(Resolver):
    """YAML 1.1 resolution, plus floats written without a dot (see below)."""


class _PyLoader(_Composing, Reader, Scanner, Parser, Composer, _Resolver):
    """Pure-Python PyYAML (when libyaml is missing), with flow nesting bounded in the scanner before it reads ahead."""

    def __init__(self, stream: str, file: str):
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        _Resolver.__init__(self)
        self._setup(file)

    def fetch_flow_collection_start(self, token_class):
        if self.flow_level >= MAX_DEPTH:   # "[[[[...": stop in the scanner, before it reads ahead
            raise SpecError(_TOO_DEEP, file=self.file, line=self.line + 1)
        super().fetch_flow_collection_start(token_class)


if CParser is not None:
    class _CLoader(_Composing, CParser, Composer, _Resolver):
        """libyaml parses (fast, and it bounds flow nesting itself); Python composes, so the hooks above apply."""

        def __init__(self, stream: str, file: str):
            CParser.__init__(self, stream)
            Composer.__init__(self)
            _Resolver.__init__(self)
            self._setup(file)

        get_single_node = Composer.get_single_node

_Loader = _CLoader if CParser is not None else _PyLoader


# YAML 1.1 wants a dot and a signed exponent (1.0e-4); people write 1e-4 and -2E3 and mean floats.
_Resolver.add_implicit_resolver(
    _Y + "float", re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)[eE][-+]?[0-9]+$"),
    list("-+.0123456789"))


@dataclass(frozen=True)
class YamlDocument:
    """Plain data loaded from YAML, with the 1-based line of every key path.

    Paths are tuples of str keys and int list indices, e.g. ``("connections", 0, "from")``; the
    line of a key path is the line of the key, that of a list item the line of the item.
    """

    data: Any
    file: str
    lines: Mapping[tuple, int]

    def line_of(self, path: Sequence) -> int | None:
        """Line of the longest known prefix of ``path``: a missing key reports its parent's line."""
        path = tuple(path)
        for end in range(len(path), -1, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return None


def dotted(path: Sequence) -> str | None:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".") or None


class _Builder:
    """Turn a composed node tree into plain values, counting nodes and recording key lines."""

    def __init__(self, loader: _Loader):
        self.loader, self.count, self.lines, self.cons = loader, 0, {(): 1}, SafeConstructor()

    def error(self, message: str, node, path=()) -> SpecError:
        return SpecError(message, key=dotted(path), file=self.loader.file,
                         line=node.start_mark.line + 1)

    def check(self, node, path, depth: int, kind: str | None = None) -> None:
        """Count the node; refuse bombs, over-deep alias expansions and non-plain tags."""
        self.count += 1
        if self.count > MAX_NODES:
            raise self.error(f"the document expands to more than {MAX_NODES} values through its aliases "
                             "(an alias repeated too often, e.g. a 'billion laughs' file)", node, path)
        if depth > MAX_DEPTH:
            raise self.error(_TOO_DEEP, node, path)
        if node.tag not in (_SCALARS if kind is None else {_Y + kind}):
            raise self.error(f"tag '{node.tag.replace(_Y, '!!')}' is not allowed; only plain "
                             "strings, numbers, booleans, null, lists and mappings", node, path)

    def value(self, node, path: tuple, depth: int) -> Any:
        if isinstance(node, ScalarNode):
            self.check(node, path, depth)
            if node.tag in _AS_TEXT:
                return node.value
            try:
                return self.cons.yaml_constructors[node.tag](self.cons, node)
            except ValueError as exc:   # e.g. an int of more than 4300 digits
                raise self.error(f"cannot read {node.value[:40]!r} as "
                                 f"{node.tag.replace(_Y, '')}: {exc}", node, path) from exc
        if isinstance(node, SequenceNode):
            self.check(node, path, depth + 1, "seq")
            out = []
            for i, item in enumerate(node.value):
                line = self.loader.alias_lines.get((id(node), i), item.start_mark.line + 1)
                self.lines[path + (i,)] = line
                out.append(self.value(item, path + (i,), depth + 1))
            return out
        self.check(node, path, depth + 1, "map")
        out = {}
        for key, (key_node, value_node) in self.pairs(node, path, depth + 1).items():
            self.lines[path + (key,)] = key_node.start_mark.line + 1
            out[key] = self.value(value_node, path + (key,), depth + 1)
        return out

    def pairs(self, node: MappingNode, path: tuple, depth: int) -> dict:
        """Key -> (key node, value node) with ``<<`` merges: explicit keys win, then earlier merges."""
        explicit, merged = {}, {}
        for key_node, value_node in node.value:
            if key_node.tag == _Y + "merge":
                many = isinstance(value_node, SequenceNode)
                if many:
                    self.check(value_node, path, depth, "seq")
                for src in value_node.value if many else [value_node]:
                    if not isinstance(src, MappingNode):
                        raise self.error("'<<' (merge) needs a mapping or a list of mappings, "
                                         "e.g. '<<: *defaults'", src, path)
                    self.check(src, path, depth + 1, "map")
                    for key, pair in self.pairs(src, path, depth + 1).items():
                        merged.setdefault(key, pair)
                continue
            if not isinstance(key_node, ScalarNode):
                raise self.error("keys must be plain strings, not lists or mappings", key_node, path)
            key = self.value(key_node, path, depth)
            if not isinstance(key, str):
                raise self.error(f"key {key_node.value!r} is read by YAML as {type(key).__name__}, "
                                 f"but keys must be strings: quote it, e.g. '{key_node.value}':",
                                 key_node, path)
            if key in explicit:
                first = explicit[key][0].start_mark.line + 1
                raise self.error(f"duplicate key '{key}' (first at line {first})", key_node,
                                 path + (key,))
            explicit[key] = (key_node, value_node)
        return {**merged, **explicit}


def _read(path: str) -> str:
    """File text; refuse what is missing, not a file, too big or not UTF-8, before parsing."""
    too_big = SpecError(f"file is larger than the limit of {MAX_BYTES} bytes (1 MiB)", file=path)
    try:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            raise SpecError("is a directory, not a YAML file", file=path)
        if info.st_size > MAX_BYTES:
            raise too_big
        with open(path, "rb") as fh:   # one byte past the limit: pipes and /dev files report 0
            raw = fh.read(MAX_BYTES + 1)
    except FileNotFoundError as exc:
        raise SpecError("file not found", file=path) from exc
    except OSError as exc:
        raise SpecError(f"cannot read file: {exc.strerror or exc}", file=path) from exc
    if len(raw) > MAX_BYTES:
        raise too_big
    if raw.startswith((b"PK\x03\x04", b"\x93NUMPY")):   # a saved model (.npz) or array (.npy), not YAML
        raise SpecError("this file is a checkpoint (a NumPy archive), not a region graph: use "
                        "cortex.load_checkpoint(path) to load a saved model", file=path)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SpecError(f"file is not valid UTF-8 (bad byte at offset {exc.start}); save it as "
                        "UTF-8", file=path, line=raw[:exc.start].count(b"\n") + 1) from exc


def _yaml_error(exc: yaml.YAMLError, text: str, file: str) -> SpecError:
    """A user-facing SpecError from a PyYAML error: the problem and its 1-based line."""
    if isinstance(exc, yaml.reader.ReaderError):
        return SpecError(f"character #x{exc.character:04x} is not allowed in YAML", file=file,
                         line=text[:exc.position].count("\n") + 1)
    problem, mark = getattr(exc, "problem", None) or str(exc), getattr(exc, "problem_mark", None)
    context, cmark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark else None
    if "maximum nesting depth" in problem:   # libyaml's own bound (1000 levels), above ours
        return SpecError(_TOO_DEEP, file=file, line=line)
    if context and context.startswith("expected a single document"):
        return SpecError("only one YAML document per file is allowed (found a second one)",
                         file=file, line=line)
    if context and context.startswith("found duplicate anchor"):   # PyYAML swaps the two parts
        problem, context = f"{context.split(';')[0]} (first at line {cmark.line + 1})", None
    if context:
        problem += f" ({context}{f' at line {cmark.line + 1}' if cmark else ''})"
    return SpecError(f"YAML syntax error: {problem}", file=file, line=line)


def load_yaml(source: str | os.PathLike | None = None, *, text: str | None = None,
              name: str | None = None) -> YamlDocument:
    """Load one YAML mapping from a path (``source``) or from ``text``, safely, with key lines.

    Raises
    ------
    SpecError : for every problem in the input, with ``file`` and, where meaningful, ``line``.
    """
    if (source is None) == (text is None):
        raise TypeError("load_yaml needs exactly one of a path or text=")
    if text is None:
        file = os.fspath(source)
        text = _read(file)
    else:
        file = name or "<string>"
        if len(text) > MAX_BYTES or len(text.encode("utf-8", "replace")) > MAX_BYTES:
            raise SpecError(f"text is larger than the limit of {MAX_BYTES} bytes (1 MiB)", file=file)
    loader = None
    try:
        loader = _Loader(text, file)
        root = loader.get_single_node()
        if not isinstance(root, MappingNode):
            if root is None or root.value in ("", None):
                raise SpecError(f"{TOP_LEVEL}, but found nothing (the document is empty)",
                                file=file, line=1)
            found = "a list" if isinstance(root, SequenceNode) else repr(root.value)
            raise SpecError(f"{TOP_LEVEL}, but found {found}", file=file,
                            line=root.start_mark.line + 1)
        builder = _Builder(loader)
        data = builder.value(root, (), 0)
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, text, file) from exc
    except RecursionError as exc:   # belt and braces: the depth limits should make this unreachable
        raise SpecError(f"nesting is too deep (the limit is {MAX_DEPTH} levels)", file=file) from exc
    finally:
        if loader is not None:
            loader.dispose()
    return YamlDocument(data, file, MappingProxyType(builder.lines))
