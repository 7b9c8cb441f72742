"""Checkpoint saving under faults: kill -9 and SIGINT against a process saving again and again. The file is always
a whole checkpoint (the old or the new one); SIGINT leaves no temporary file; kill -9 may leave one, and the next
save beside it removes it (temporaries carry their writer's process id)."""
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from cortex.atomic import atomic_write, clean_orphans
from cortex.checkpoint import load_checkpoint, save_checkpoint
from cortex.model import Model
from cortex.spec import load_spec

GRAPH = "name: f\ninputs:\n  x: {shape: [64]}\nregions:\n  A: {hypotheses: 256, inputs: [x]}\n"

SAVER = textwrap.dedent("""
    import signal, sys
    signal.signal(signal.SIGINT, signal.default_int_handler)   # a shell's background job inherits SIGINT ignored
    from cortex.model import Model
    from cortex.spec import load_spec
    model = Model(load_spec(text=sys.argv[2]))
    model.save(sys.argv[1])      # one whole checkpoint before any signal
    print("ready", flush=True)
    while True:
        model.save(sys.argv[1])
""")


def temporaries(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def saver(path):
    proc = subprocess.Popen([sys.executable, "-c", SAVER, str(path), GRAPH], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    return proc


def whole(path):
    model = load_checkpoint(path)
    assert model.regions["A"].weights["W"].shape == (256, 64)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_a_signal_mid_save_leaves_a_whole_checkpoint(tmp_path, sig):
    path = tmp_path / "model.npz"
    for delay in (0.05, 0.2, 0.35):
        proc = saver(path)
        try:
            try:
                proc.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                proc.send_signal(sig)
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:     # never leave a saver running past a failed test
                proc.kill()
                proc.wait()
        assert proc.returncode != 0
        whole(path)
        if sig == signal.SIGINT:
            assert temporaries(tmp_path) == []      # the interrupted write removed its own temporary
    save_checkpoint(Model(load_spec(text=GRAPH)), path)   # the next save: orphans of dead writers are gone
    assert temporaries(tmp_path) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]
    whole(path)


def test_an_orphan_of_a_killed_writer_is_removed_and_a_live_ones_kept(tmp_path):
    path = tmp_path / "out.bin"
    code = ("import os, sys\nfrom cortex.atomic import atomic_write\n"
            "with atomic_write(sys.argv[1]) as f:\n    f.write(b'half'); f.flush(); os.kill(os.getpid(), 9)\n")
    subprocess.run([sys.executable, "-c", code, str(path)], timeout=60)
    orphans = temporaries(tmp_path)
    assert len(orphans) == 1 and not path.exists()
    mine = tmp_path / f".out.bin.{os.getpid()}-inuse.tmp"       # this process is alive: its temporary stays
    mine.write_bytes(b"busy")
    other = tmp_path / ".other.bin.1-x.tmp"                     # another file's temporaries are not ours
    other.write_bytes(b"x")
    with atomic_write(path) as f:
        f.write(b"whole")
    assert path.read_bytes() == b"whole"
    assert temporaries(tmp_path) == sorted([mine.name, other.name])
    mine.unlink()
    assert clean_orphans(path) == []
