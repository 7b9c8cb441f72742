"""griffe extension: read the project's docstrings as they are written, so mkdocstrings renders them well.

The code writes numpy-style sections in a compact form, ``name : what it is`` (the type is in the
signature), and cites objects with Sphinx roles (``:class:`~cortex.spec.NetworkSpec```). Read literally,
the numpy parser would put every description in the *type* column, and Markdown has no Sphinx roles.
So, before parsing, this extension

- turns ``name : description`` into ``name`` plus an indented description, unless what follows the
  colon looks like a type (``int``, ``float | None``, ``dict[str, int]``), and ``a, b : description``
  into one item per name (so that each shows its own type from the signature);
- lets a Returns/Yields section that is one sentence, or a Raises line ``Error if ...``, be read as a
  description (of the annotated return type, or of that exception);
- writes a Sphinx role as inline code (``~`` keeps the last part only, as Sphinx does).

It changes what is read, never the source files.
"""
from __future__ import annotations

import re

from griffe import Extension

NAMED = {"Parameters", "Other Parameters", "Attributes", "Receives"}     # name : description
RETURNED = {"Returns", "Yields"}                                        # name : description, or a sentence
RAISED = {"Raises", "Warns"}                                            # Error : description, or Error if ...
HEADERS = NAMED | RETURNED | RAISED | {"Notes", "Examples", "See Also", "References", "Warnings"}
NAMES = r"\*{0,2}[A-Za-z_]\w*(?:,\s*\*{0,2}[A-Za-z_]\w*)*"
ITEM = re.compile(rf"^(?P<names>{NAMES})\s+:\s+(?P<rest>.+)$")
TYPE_LIKE = re.compile(r"[\w.\[\]]+(?:\s*[,|]\s*[\w.\[\]]+)*(?:,\s*optional)?")
ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|data|exc|obj|const):`~?([^`]+)`")


def _role(match: re.Match) -> str:
    text = match.group(0)
    target = match.group(1)
    return f"`{target.rsplit('.', 1)[-1] if '`~' in text else target}`"


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def rewrite(text: str) -> str:
    """The docstring ``text`` in the form griffe's numpy parser reads as the author meant it."""
    text = ROLE.sub(_role, text)
    lines = text.split("\n")
    out: list[str] = []
    i, in_sections = 0, False
    while i < len(lines):
        line = lines[i]
        header = line.strip()
        underline = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if header in HEADERS and underline and set(underline) == {"-"}:
            out += [line, lines[i + 1]]
            i = _section(lines, i + 2, _indent(line), header, out)
            in_sections = True
            continue
        if in_sections and header and not (out and out[-1].strip()):
            i = _trailing(lines, i, out)     # prose after a section would be read as more of its items
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


def _trailing(lines: list[str], i: int, out: list[str]) -> int:
    """A paragraph after the sections: ``Returns ...`` becomes a Returns section, anything else a Notes one."""
    paragraph = []
    while i < len(lines) and lines[i].strip():
        paragraph.append(lines[i].strip())
        i += 1
    first, _, rest = paragraph[0].partition(" ")
    if first in RETURNED and rest:
        out += [first, "-" * len(first), ":", "    " + rest, *("    " + p for p in paragraph[1:])]
    else:
        out += ["Notes", "-----", *paragraph]
    return i


def _section(lines: list[str], i: int, base: int, header: str, out: list[str]) -> int:
    """Copy the section body starting at line ``i`` into ``out``, rewritten; returns the next line index."""
    pad = " " * base
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            nxt = next((ln for ln in lines[i + 1:] if ln.strip()), None)
            if nxt is None or _indent(nxt) <= base:
                return i                       # a blank line ends the section
            out.append(line)
            i += 1
            continue
        if _indent(line) < base:
            return i
        if _indent(line) > base or header not in NAMED | RETURNED | RAISED:
            out.append(line)
            i += 1
            continue
        stripped = line.strip()
        item = ITEM.match(stripped)
        if item and not TYPE_LIKE.fullmatch(item.group("rest")):
            names, rest = item.group("names"), item.group("rest")
            if header in RAISED:
                out += [pad + names, pad + "    " + rest]
            elif header in RETURNED:
                out += [pad + names + " :", pad + "    " + rest]
            else:                              # "a, b : ..." -> one item each, so each gets its own type
                more = []
                while i + 1 < len(lines) and lines[i + 1].strip() and _indent(lines[i + 1]) > base:
                    i += 1
                    more.append(lines[i])
                for name in re.split(r",\s*", names):
                    out += [pad + name, pad + "    " + rest, *more]
        elif item or TYPE_LIKE.fullmatch(stripped):
            out.append(line)
        elif header in RETURNED:               # a sentence: the description of the annotated return value
            out.append(pad + ":")
            while i < len(lines) and lines[i].strip() and _indent(lines[i]) >= base:
                out.append(pad + "    " + lines[i].strip())
                i += 1
            continue
        elif header in RAISED:                 # "StimulusError if ...": the exception, then why
            first, _, rest = stripped.partition(" ")
            out += [pad + first, pad + "    " + rest]
        else:
            out.append(line)
        i += 1
    return i


class ProjectDocstrings(Extension):
    """Rewrites every docstring with :func:`rewrite` as soon as griffe has read it."""

    def on_instance(self, *, obj, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rewrite(obj.docstring.value)
