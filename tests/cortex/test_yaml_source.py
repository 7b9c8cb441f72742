"""Tests for cortex.yaml_source: safe YAML loading with the line of every key."""
import math

import pytest

from cortex.errors import SpecError
from cortex.yaml_source import MAX_BYTES, MAX_DEPTH, YamlDocument, load_yaml

SPEC = """\
# a comment first
name: demo
regions:
  V1:
    hypotheses: 8
    lr: 1.0e-4
connections:
  - from: V1
    to: V2
  - {from: V2, to: V1}
"""


def _error(text: str, name: str | None = None) -> SpecError:
    with pytest.raises(SpecError) as info:
        load_yaml(text=text, name=name)
    return info.value


def test_happy_path_records_lines_of_keys_and_items(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC, encoding="utf-8")
    doc = load_yaml(path)
    assert isinstance(doc, YamlDocument) and doc.file == str(path)
    assert doc.data["regions"]["V1"] == {"hypotheses": 8, "lr": 1e-4}
    assert doc.data["connections"][1] == {"from": "V2", "to": "V1"}
    assert doc.lines[()] == 1
    assert doc.lines[("name",)] == 2
    assert doc.lines[("regions", "V1", "hypotheses")] == 5
    assert doc.lines[("connections", 0)] == 8
    assert doc.lines[("connections", 0, "from")] == 8
    assert doc.lines[("connections", 0, "to")] == 9
    assert doc.lines[("connections", 1)] == 10
    assert doc.line_of(["regions", "V1", "lr"]) == 6


def test_line_of_falls_back_to_longest_known_prefix():
    doc = load_yaml(text=SPEC)
    assert doc.file == "<string>"
    assert doc.line_of(("regions", "V1", "missing", "deeper")) == 4
    assert doc.line_of(["connections", 7]) == 7
    assert doc.line_of(("nowhere",)) == 1
    assert doc.line_of(()) == 1
    assert load_yaml(text="a: 1", name="mine.yaml").file == "mine.yaml"


def test_data_is_plain_python():
    doc = load_yaml(text="a: 2024-01-01\nb: ~\nc: true\nd: [1, 'x']\ne: '1'\n")
    assert doc.data == {"a": "2024-01-01", "b": None, "c": True, "d": [1, "x"], "e": "1"}


def test_floats_with_and_without_dot():
    doc = load_yaml(text="a: 1.0e-4\nb: 1e-4\nc: -2E3\nd: .inf\ne: .nan\nf: 3e5\ng: 12\nh: '1e-4'\n")
    d = doc.data
    assert d["a"] == d["b"] == 1e-4 and d["c"] == -2000.0 and d["f"] == 3e5
    assert d["d"] == math.inf and math.isnan(d["e"])
    assert all(isinstance(d[k], float) for k in "abcdef")
    assert d["g"] == 12 and isinstance(d["g"], int)
    assert d["h"] == "1e-4"


@pytest.mark.parametrize("tagged", [
    "!!python/object/apply:os.system ['echo pwned']",
    "!!python/name:os.system",
    "!!binary aGVsbG8=",
    "!!set {a, b}",
    "!custom 3",
])
def test_non_standard_tags_are_refused(tagged):
    err = _error(f"name: demo\ncmd: {tagged}\n", name="evil.yaml")
    assert "is not allowed" in err.message and "tag '!" in err.message
    assert (err.file, err.line, err.key) == ("evil.yaml", 2, "cmd")


def test_tag_on_nested_item_reports_its_line():
    err = _error("a:\n  - 1\n  - !!python/object/new:dict {}\n")
    assert err.line == 3 and err.key == "a[1]" and "python/object/new:dict" in err.message


def test_duplicate_keys_name_both_lines():
    err = _error("regions:\n  V1:\n    lr: 1\n    hypotheses: 2\n    lr: 3\n")
    assert err.message == "duplicate key 'lr' (first at line 3)"
    assert (err.line, err.key, err.file) == (5, "regions.V1.lr", "<string>")


def test_alias_bomb_is_refused_fast(monkeypatch):
    """9**10 values through aliases: refused once the expansion passes the bound, which is what keeps it fast (the
    number of values built is counted, never the wall-clock time)."""
    import cortex.yaml_source as ys

    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    built = []
    real = ys._Builder.check
    monkeypatch.setattr(ys._Builder, "check", lambda self, *a, **k: (built.append(1), real(self, *a, **k))[1])
    err = _error("\n".join(lines) + "\n")
    assert "more than 100000 values through its aliases" in err.message
    assert err.line is not None and err.file == "<string>"
    assert len(built) == ys.MAX_NODES + 1            # stopped at the bound, not after 9**10


@pytest.mark.parametrize("flow", [True, False])
def test_a_long_list_without_aliases_is_refused_for_its_size_not_blamed_on_aliases(monkeypatch, flow):
    """A 1 MiB file of one long list: composition stops at the first value past the bound (the work is that of
    MAX_NODES values whatever the file's length), and the message speaks of the list, not of aliases."""
    import cortex.yaml_source as ys

    n = ys.MAX_NODES + 50_000
    body = ("big: [" + ",".join(["1"] * n) + "]\n") if flow else ("big:\n" + "- 1\n" * n)
    composed = []
    real = ys._Composing.compose_node
    monkeypatch.setattr(ys._Composing, "compose_node", lambda self, *a: (composed.append(1), real(self, *a))[1])
    err = _error("name: long\n" + body)
    assert "holds more than 100000 values" in err.message and "alias" not in err.message
    # the mapping, 'name', 'long', 'big' and the list come first: item MAX_NODES - 4 passes, on line MAX_NODES - 2
    assert err.line == (2 if flow else ys.MAX_NODES - 2)
    assert len(composed) <= ys.MAX_NODES + 2


def test_a_long_list_under_the_bound_loads_whole():
    doc = load_yaml(text="big: [" + ",".join(str(i % 7) for i in range(50_000)) + "]\n")
    assert len(doc.data["big"]) == 50_000 and doc.data["big"][:8] == [0, 1, 2, 3, 4, 5, 6, 0]


def test_ordinary_aliases_and_merge_keys_work():
    text = ("defaults: &d\n  lr: 0.1\n  size: 4\n"
            "V1:\n  <<: *d\n  size: 8\n"
            "V2:\n  <<: [*d, {extra: 1, lr: 9}]\n"
            "list:\n  - *d\n")
    doc = load_yaml(text=text)
    assert doc.data["V1"] == {"lr": 0.1, "size": 8}
    assert doc.data["V2"] == {"lr": 0.1, "size": 4, "extra": 1}   # earlier merge wins
    assert doc.data["list"] == [{"lr": 0.1, "size": 4}]
    assert "<<" not in doc.data["V1"]
    assert doc.lines[("V1", "size")] == 6            # explicit key: its own line
    assert doc.lines[("V1", "lr")] == 2              # merged key: where it was written
    assert doc.lines[("list", 0)] == 10              # alias item: the alias's line


def test_bad_merge_value_is_refused():
    err = _error("a:\n  <<: 3\n")
    assert "merge" in err.message and err.line == 2 and err.key == "a"


def test_deep_flow_nesting_is_refused_fast():
    err = _error("[" * 100_000)          # refused by depth, before reading the rest (no time is asserted)
    assert f"deeper than {MAX_DEPTH} levels" in err.message and err.line == 1


def test_deep_block_mapping_is_refused():
    text = "".join("  " * i + f"k{i}:\n" for i in range(70)) + "  " * 70 + "leaf: 1\n"
    err = _error(text, name="deep.yaml")
    assert f"deeper than {MAX_DEPTH} levels" in err.message
    assert (err.file, err.line) == ("deep.yaml", MAX_DEPTH + 1)
    ok = "".join("  " * i + f"k{i}:\n" for i in range(MAX_DEPTH - 1)) + "  " * 63 + "leaf: 1\n"
    assert load_yaml(text=ok).line_of(["k0"] + [f"k{i}" for i in range(1, 63)] + ["leaf"]) == 64


def test_deep_nesting_through_aliases_is_refused():
    deep = "[" * 40 + "]" * 40
    err = _error(f"a: &x {deep}\nb: {'[' * 30}*x{']' * 30}\n")
    assert "deeper than" in err.message and err.key.startswith("b")


def test_self_referencing_anchor_is_refused():
    err = _error("a: &x [1, *x]\n")
    assert "deeper than" in err.message and err.line == 1


def test_file_problems(tmp_path):
    missing = tmp_path / "nope.yaml"
    err = pytest.raises(SpecError, load_yaml, missing).value
    assert err.message == "file not found" and err.file == str(missing)

    err = pytest.raises(SpecError, load_yaml, tmp_path).value
    assert "directory" in err.message and err.file == str(tmp_path)

    big = tmp_path / "big.yaml"
    big.write_bytes(b"a: " + b"x" * MAX_BYTES + b"\n")
    err = pytest.raises(SpecError, load_yaml, big).value
    assert "1 MiB" in err.message and err.file == str(big)
    err = _error("a: " + "x" * MAX_BYTES)
    assert "1 MiB" in err.message

    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"name: demo\ncity: M\xfcnchen\n")
    err = pytest.raises(SpecError, load_yaml, str(latin)).value
    assert "UTF-8" in err.message and (err.file, err.line) == (str(latin), 2)
    assert isinstance(err.__cause__, UnicodeDecodeError)


@pytest.mark.parametrize("text, found, line", [
    ("", "nothing", 1),
    ("# only a comment\n", "nothing", 1),
    ("---\n", "nothing", 1),
    ("\n- a\n- b\n", "a list", 2),
    ("just text\n", "'just text'", 1),
])
def test_top_level_must_be_a_mapping(tmp_path, text, found, line):
    path = tmp_path / "t.yaml"
    path.write_text(text, encoding="utf-8")
    err = pytest.raises(SpecError, load_yaml, path).value
    assert "the top level must be a mapping of keys like name, inputs, regions" in err.message
    assert found in err.message and (err.file, err.line) == (str(path), line)


def test_multiple_documents_are_refused():
    err = _error("a: 1\n---\nb: 2\n")
    assert "one YAML document" in err.message and err.line == 2


def test_syntax_errors_give_problem_and_line():
    err = _error("name: demo\nregions:\n  V1: [1, 2\n  V2: 3\n", name="s.yaml")
    assert err.message.startswith("YAML syntax error:") and err.file == "s.yaml"
    assert err.line == 4 and "line 3" in err.message
    assert err.__cause__ is not None and "Traceback" not in str(err)
    err = _error("a: b: c\n")
    assert "mapping values are not allowed" in err.message and err.line == 1   # libyaml: "in this context"
    err = _error("a: 1\nb: *nowhere\n")
    assert "undefined alias" in err.message and err.line == 2
    err = _error("a: &x 1\nb: &x 2\n")
    assert "duplicate anchor 'x' (first at line 1)" in err.message and err.line == 2
    err = _error("a: 1\nb: \x01\n")
    assert "#x0001" in err.message and err.line == 2


@pytest.mark.parametrize("text, key_text, line", [
    ("a: 1\n1: x\n", "'1'", 2),
    ("a: 1\non: x\n", "'on'", 2),
    ("a:\n  yes: 1\n", "'yes'", 2),
    ("a: 1\n~: 2\n", "'~'", 2),
    ("a: 1\n1.5: x\n", "'1.5'", 2),
])
def test_keys_must_be_strings_with_quoting_hint(text, key_text, line):
    err = _error(text)
    assert f"key {key_text}" in err.message and "quote" in err.message and err.line == line


def test_collection_keys_are_refused():
    err = _error("a: 1\n[a]: 2\n")
    assert "keys must be plain strings" in err.message and err.line == 2
    err = _error("a: 1\n? {b: 1}\n: 2\n")
    assert "keys must be plain strings" in err.message and err.line == 2


def test_quoted_keys_that_look_like_other_types_are_fine():
    assert load_yaml(text="'on': 1\n'1': 2\n").data == {"on": 1, "1": 2}


def test_document_is_immutable():
    doc = load_yaml(text="a: 1\n")
    with pytest.raises(AttributeError):
        doc.file = "x"
    with pytest.raises(TypeError):
        doc.lines[("b",)] = 3


def test_unreadable_scalar_is_a_spec_error():
    err = _error("a: 1\nb: " + "9" * 5000 + "\n")
    assert "cannot read" in err.message and "int" in err.message
    assert (err.line, err.key) == (2, "b")
    assert isinstance(err.__cause__, ValueError)


def test_the_pure_python_loader_behaves_the_same(monkeypatch):
    """Without libyaml the pure-Python parser is used; the same limits, floats and messages hold."""
    import cortex.yaml_source as ys

    monkeypatch.setattr(ys, "_Loader", ys._PyLoader)
    assert load_yaml(text="a: 1e-4\nb: [1, '2']\n").data == {"a": 1e-4, "b": [1, "2"]}
    assert f"deeper than {MAX_DEPTH} levels" in _error("[" * 100_000).message
    assert "holds more than 100000 values" in _error("big: [" + ",".join(["1"] * 100_010) + "]\n").message
    assert "one YAML document" in _error("a: 1\n---\nb: 2\n").message
    err = _error("name: demo\nregions:\n  V1: [1, 2\n  V2: 3\n")
    assert err.line == 4 and "line 3" in err.message
