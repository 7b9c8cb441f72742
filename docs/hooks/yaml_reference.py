"""mkdocs hook: the YAML reference tables, generated from the pydantic parameter models so they cannot drift.

A page asks for a table with a marker on a line of its own:

    <!-- yaml-reference: graph -->              the top level: name, seed, inputs, connections, settle ...
    <!-- yaml-reference: regions -->            keys every region kind has, then one table per kind
    <!-- yaml-reference: regions.predictive --> one region kind
    <!-- yaml-reference: experiment.rivalry --> one experiment kind's ``experiment:`` block

Keys, value types, bounds and defaults are read from the models (:class:`cortex.spec.NetworkSpec`, each
registered region kind's and experiment kind's ``Params``); nested models become dotted keys
(``adaptation.strength``). The *meaning* of a key is its pydantic ``Field(description=...)`` when the
code gives one, else its entry in ``yaml_keys.yaml`` beside this file. ``tests/test_docs.py`` fails when
a key has no meaning, when a meaning names a key that no longer exists, or when a section is on no page.
"""
from __future__ import annotations

import enum
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path

import annotated_types as at
from pydantic import BaseModel

HERE = Path(__file__).resolve().parent
MEANINGS = HERE / "yaml_keys.yaml"
MARKER = re.compile(r"^<!-- yaml-reference: ([\w.]+) -->$", re.M)


@dataclass(frozen=True)
class Row:
    """One YAML key: where it lives, what it takes, its default and what it means."""

    section: str      # graph | regions | regions.KIND | experiment | experiment.KIND
    key: str          # dotted, relative to the section (connections[].from, adaptation.strength)
    value: str        # what it accepts, in words
    default: str
    meaning: str | None


# ----------------------------------------------------------------------------------------- the models

def region_kinds() -> dict[str, type[BaseModel]]:
    from cortex.regions import get_kind, known_kinds

    return {name: get_kind(name).Params for name in known_kinds()}


def experiment_kinds() -> dict[str, type[BaseModel]]:
    from cortex.experiments import get_experiment_kind, known_experiments

    return {name: get_experiment_kind(name).Params for name in known_experiments()}


def sections() -> list[str]:
    """Every section a page can ask for (``regions`` stands for the common keys and every kind's)."""
    return (["graph", "regions"] + [f"regions.{k}" for k in region_kinds()]
            + [f"experiment.{k}" for k in experiment_kinds()])


def _meanings() -> dict:
    from cortex.yaml_source import load_yaml

    return load_yaml(MEANINGS).data


def rows() -> list[Row]:
    """Every key of every section, in the order the models declare them."""
    from cortex.region import RegionParams
    from cortex.spec import NetworkSpec

    meanings = _meanings()
    common = set(RegionParams.model_fields)
    out = list(_walk(NetworkSpec, "graph", "", meanings.get("graph", {}), {}))
    region_common = meanings.get("regions", {}).get("common", {})
    out += _walk(RegionParams, "regions", "", region_common, {})
    for kind, params in region_kinds().items():
        own = meanings.get("regions", {}).get(kind, {})
        out += _walk(params, f"regions.{kind}", "", own, region_common, skip=common - {"kind"})
    shared = meanings.get("experiment", {}).get("common", {})
    for kind, params in experiment_kinds().items():
        out += _walk(params, f"experiment.{kind}", "", meanings.get("experiment", {}).get(kind, {}), shared)
    return out


def _walk(model, section, prefix, own: dict, shared: dict, skip=()):
    for name, field in model.model_fields.items():
        if name in skip:
            continue
        key = prefix + (field.alias or name)
        inner, container = _nested(field.annotation)
        if inner is not None:
            yield from _walk(inner, section, key + container, own, shared)
            continue
        meaning = field.description or own.get(key) or shared.get(key)
        yield Row(section, key, _value(field), _default(field), meaning)


def _is_model(tp):
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _nested(annotation):
    """(model, key suffix) when a field holds a nested model (``a.b``, also an optional one), a dict of them
    (``a.NAME.b``) or a list of them (``a[].b``); (None, '') for a plain value."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType) and type(None) in args:   # an optional block: ``X | None``
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            return _nested(rest[0])
    if _is_model(annotation):
        return annotation, "."
    if origin is dict and len(args) == 2 and _is_model(args[1]):
        return args[1], ".NAME."
    if origin is list and args and _is_model(args[0]):
        return args[0], "[]."
    return None, ""


# ------------------------------------------------------------------------------------- value and default

UNIT_NAMES = {"Time": "time > 0", "Duration": "time ≥ 0", "Voltage": "voltage", "PositiveVoltage": "voltage ≥ 0",
              "Rate": "rate ≥ 0", "PositiveRate": "rate > 0"}


def _unit(field) -> str | None:
    """'time > 0' etc. for a quantity with a unit (cortex.units), matched by its validator."""
    from cortex import units

    mine = {id(m) for m in field.metadata}
    for name, words in UNIT_NAMES.items():
        if any(id(m) in mine for m in typing.get_args(getattr(units, name))[1:]):
            return f"{words}, with a unit"
    return None


def _type_words(tp) -> str:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Literal:
        names = [f"`{a}`" for a in args]
        return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_words(a) for a in args if a is not type(None))
    if origin is typing.Annotated:
        return _type_words(args[0]) + _bounds(args[1:])
    if origin in (list, tuple):
        if origin is tuple and args and args[-1] is not Ellipsis:
            return "[" + ", ".join(_type_words(a) for a in args) + "]"
        return f"list of {_plural(_type_words(args[0]))}" if args else "list"
    if origin is dict:
        return "mapping of names to " + ("key blocks" if args[1] is typing.Any else _plural(_type_words(args[1])))
    if tp is typing.Any:
        return "key block"
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return " or ".join(f"`{m.value}`" for m in tp)
    return {bool: "true or false", int: "integer", float: "number", str: "string"}.get(tp, getattr(tp, "__name__", str(tp)))


def _plural(words: str) -> str:
    first, _, rest = words.partition(" ")
    plural = {"integer": "integers", "number": "numbers", "string": "strings"}.get(first, first)
    return plural + (" " + rest if rest else "")


def _bounds(metadata, text: bool = False) -> str:
    """' > 0, ≤ 1', ', not empty', ', 1 to 4 items' from a field's annotated-types constraints."""
    limits, low, high = [], None, None
    for m in metadata:
        for cls, sym, attr in ((at.Gt, ">", "gt"), (at.Ge, "≥", "ge"), (at.Lt, "<", "lt"), (at.Le, "≤", "le")):
            if isinstance(m, cls):
                limits.append(f"{sym} {_plain(getattr(m, attr))}")
        if isinstance(m, at.MinLen):
            low = m.min_length
        if isinstance(m, at.MaxLen):
            high = m.max_length
    count = ("not empty" if text and low else f"{low} to {high} items" if low and high
             else f"at least {low} item{'s' if low > 1 else ''}" if low else f"at most {high} items" if high else "")
    return (" " + ", ".join(limits) if limits else "") + (", " + count if count else "")


def _value(field) -> str:
    """What a key accepts, in words: 'integer ≥ 1', 'number > 0 or null', '`lateral`, `none` or `softmax`'."""
    unit = _unit(field)
    if unit:
        return unit
    tp, args = field.annotation, typing.get_args(field.annotation)
    optional = typing.get_origin(tp) in (typing.Union, types.UnionType) and type(None) in args
    words = _type_words(tp) + _bounds(field.metadata, text=tp is str)
    return words + (" or null" if optional else "")


def _plain(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_plain(x) for x in v) + "]"
    if isinstance(v, BaseModel):
        return "{...}"
    return str(v)


def _default(field) -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "none"
    return f"`{_plain(value)}`"


# -------------------------------------------------------------------------------------------- Markdown

def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(section_rows: list[Row]) -> str:
    lines = ["| key | value | default | meaning |", "| --- | --- | --- | --- |"]
    for r in sorted(section_rows, key=lambda r: r.key != "kind"):     # kind first, then as declared
        lines.append(f"| `{_cell(r.key)}` | {_cell(r.value)} | {_cell(r.default)} | {_cell(r.meaning or '')} |")
    return "\n".join(lines)


def render(section: str, all_rows: list[Row] | None = None) -> str:
    """The Markdown for one marker; ``regions`` gives the common keys and a titled table per kind."""
    all_rows = rows() if all_rows is None else all_rows
    if section not in sections():
        raise KeyError(f"unknown yaml-reference section {section!r}; known: {', '.join(sections())}")
    if section == "regions":
        parts = [table([r for r in all_rows if r.section == "regions"])]
        for kind in region_kinds():
            parts += [f"#### `kind: {kind}`", "", f"<!-- yaml-reference: regions.{kind} -->"]
        return "\n\n".join(parts)
    return table([r for r in all_rows if r.section == section])


def undocumented(all_rows: list[Row] | None = None) -> list[str]:
    return [f"{r.section}: {r.key}" for r in (rows() if all_rows is None else all_rows) if not r.meaning]


def stale() -> list[str]:
    """Entries in yaml_keys.yaml that no model has (a renamed or removed key, a misspelt kind)."""
    meanings, keys = _meanings(), {(r.section, r.key) for r in rows()}
    kinds = {"regions": ["common", *region_kinds()], "experiment": ["common", *experiment_kinds()]}
    out = [f"graph: {k}" for k in meanings.get("graph", {}) if ("graph", k) not in keys]
    for top, names in kinds.items():
        for kind, entries in meanings.get(top, {}).items():
            if kind not in names:
                out.append(f"{top}.{kind}: no such kind")
                continue
            if kind == "common":
                have = ({k for s, k in keys if s == "regions"} if top == "regions"
                        else {k for s, k in keys if s.startswith("experiment.")})
            else:
                have = {k for s, k in keys if s == f"{top}.{kind}"}
            out += [f"{top}.{kind}: {k}" for k in entries if k not in have]
    extra = set(meanings) - {"graph", "regions", "experiment"}
    return out + [f"{k}: unknown top-level section" for k in sorted(extra)]


# ------------------------------------------------------------------------------------------- the hook

def expand(markdown: str) -> str:
    """Replace every marker (and the markers ``regions`` expands to) with its table."""
    all_rows = rows()
    for _ in range(3):    # ``regions`` expands to markers of its own
        markdown = MARKER.sub(lambda m: render(m.group(1), all_rows), markdown)
    return markdown


def on_page_markdown(markdown, page, config, files):
    if MARKER.search(markdown):
        from mkdocs.exceptions import PluginError

        try:
            return expand(markdown)
        except KeyError as exc:
            raise PluginError(f"{page.file.src_path}: {exc.args[0]}") from None
    return markdown
