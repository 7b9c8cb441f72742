"""Windows of a sensor (``{of: retina, rows: [r0, r1], cols: [c0, c1]}``): the model cuts them from the sensor.

Each check compares a graph that reads windows with the same graph fed the patches by hand, so a wrong cut, a
shifted index or a lost absent mask shows up as different numbers.
"""
import numpy as np
import pytest

import cortex
from cortex.errors import CortexError, StimulusError
from cortex.model import Model
from cortex.spec import spec_from_dict

QUADRANTS = {"q00": ([0, 4], [0, 4]), "q01": ([0, 4], [4, 8]), "q10": ([4, 8], [0, 4]), "q11": ([4, 8], [4, 8])}


def graph(windows: bool, extra: str = "") -> str:
    if windows:
        inputs = "\n".join(f"  {n}: {{of: retina, rows: {r}, cols: {c}}}" for n, (r, c) in QUADRANTS.items())
        inputs = "  retina: {shape: [8, 8]}\n" + inputs
    else:
        inputs = "\n".join(f"  {n}: {{shape: [4, 4]}}" for n in QUADRANTS)
    v1 = "\n".join(f"  V1_{n[1:]}: {{kind: predictive, hypotheses: 6, inputs: [{n}], competition: lateral}}"
                   for n in QUADRANTS)
    return (f"name: quadrants\nseed: 3\ninputs:\n{inputs}\n{extra}regions:\n{v1}\n"
            "  IT: {kind: predictive, hypotheses: 5, inputs: [V1_00, V1_01, V1_10, V1_11], competition: softmax}\n"
            "settle: {steps: 30}\n")


def patches(X):
    return {n: X[..., r[0]:r[1], c[0]:c[1]] for n, (r, c) in QUADRANTS.items()}


@pytest.fixture(scope="module")
def models():
    return Model(cortex.load_spec(text=graph(True))), Model(cortex.load_spec(text=graph(False)))


X = np.random.default_rng(0).random((6, 8, 8)).astype(np.float32)


def test_a_window_has_the_shape_its_rows_and_cols_cut():
    spec = cortex.load_spec(text=graph(True))
    assert spec.inputs["q01"].shape == (4, 4) and spec.inputs["q01"].size == 16
    assert spec_from_dict(spec.to_dict()) == spec            # the shape written out reads back


def test_settling_on_the_sensor_is_settling_on_its_windows(models):
    cut, by_hand = models
    a, b = cut.settle({"retina": X}, noise=False), by_hand.settle(patches(X), noise=False)
    for name in b.activity:
        np.testing.assert_array_equal(a.activity[name], b.activity[name])
    assert a.steps == b.steps


def test_a_window_of_an_absent_sensor_is_absent(models):
    cut, by_hand = models
    a = cut.settle({}, absent=["retina"], noise=False, past=[cut.settle({"retina": X}, noise=False)])
    b = by_hand.settle({}, absent=list(QUADRANTS), noise=False, past=[by_hand.settle(patches(X), noise=False)])
    np.testing.assert_array_equal(a.activity["IT"], b.activity["IT"])


def test_a_window_is_cut_by_the_model_not_given(models):
    cut, _ = models
    with pytest.raises(StimulusError, match=r"\['q00'\] are windows .*of 'retina'.*give the sensor"):
        cut.settle({"retina": X, "q00": X[:, :4, :4]})
    with pytest.raises(StimulusError, match="windows the model cuts"):
        cut.settle({"retina": X}, absent=["q11"])


def test_a_stream_cuts_every_frame_and_keeps_the_absent_frames(models):
    cut, by_hand = models
    frames = np.stack([X, X[::-1], X])
    mask = np.array([False, True, False])
    a = cut.stream(batch=6, noise=False).run({"retina": frames}, absent={"retina": mask}, forecast=True)
    b = by_hand.stream(batch=6, noise=False).run(patches(frames), absent={n: mask for n in QUADRANTS}, forecast=True)
    np.testing.assert_array_equal(a.activity["IT"], b.activity["IT"])
    np.testing.assert_array_equal(a.input_forecast["q10"], b.input_forecast["q10"])


def test_sensor_fields_put_each_window_where_it_was_cut(models):
    cut, _ = models
    fields, sensor = cut.sensor_fields("V1_11")
    assert sensor == "retina" and fields.shape == (6, 64)
    img = fields.reshape(6, 8, 8)
    assert not img[:, :4].any() and not img[:, :, :4].any()          # nothing outside the bottom-right quadrant
    np.testing.assert_array_equal(img[:, 4:, 4:].reshape(6, 16), cut.compiled.regions[cut.compiled.index["V1_11"]]
                                  .region.fields())
    top, _ = cut.sensor_fields("IT")
    assert np.count_nonzero(np.abs(top).reshape(5, 8, 8).sum(0)) == 64    # the read-out's fields cover the sensor


@pytest.mark.parametrize("window, message", [
    ("{of: retina, rows: [0, 9], cols: [0, 4]}", r"inputs.q00.rows: rows \[0, 9\] runs past 'retina', which has 8"),
    ("{of: retinaa, rows: [0, 4], cols: [0, 4]}", "inputs.q00.of: .*did you mean 'retina'"),
    ("{of: retina, rows: [3, 3], cols: [0, 4]}", r"inputs.q00: rows \[3, 3\] is empty"),
    ("{of: retina, cols: [0, 4]}", "inputs.q00: a window of 'retina' needs rows"),
    ("{rows: [0, 4], cols: [0, 4]}", "inputs.q00: rows and cols cut a window of another input: give of"),
    ("{of: retina, rows: [0, 4], cols: [0, 4], shape: [4, 5]}", r"shape \[4, 5\] disagrees with rows and cols"),
    ("{of: q01, rows: [0, 4], cols: [0, 4]}", "'q01' is itself a window; cut 'q00' from its sensor 'retina'"),
    ("{of: label, rows: [0, 4], cols: [0, 4]}", r"'label' has shape \[10\]: a window needs a 2-D sensor"),
])
def test_a_window_that_cannot_be_cut_is_refused_with_its_key_and_line(window, message):
    text = graph(True).replace("  q00: {of: retina, rows: [0, 4], cols: [0, 4]}", f"  q00: {window}")
    text = text.replace("inputs:\n", "inputs:\n  label: {shape: [10]}\n")
    with pytest.raises(CortexError, match=message) as info:
        cortex.load_spec(text=text)
    assert ":6)" in str(info.value)                                 # the line of q00


def test_recognition_learns_a_retinotopic_sheet_layer_by_layer(tmp_path):
    """The digits through four quadrant modules, each learned without labels from its own patch, then the read-out
    over their codes (the layerwise schedule cuts the graph and the read-out's code keeps the sensor's windows)."""
    text = graph(True, extra="  label: {shape: [10]}\n").replace("hypotheses: 5", "hypotheses: 10, teacher: label, "
                                                                 "factors: 2, precision: 30.0, lr: 0.05")
    text += ("experiment: {kind: recognition, stimulus: retina, label: label, readout: IT, epochs: 1, pretrain: 1, "
             "baselines: false, max_train: 500, evaluate_on: validation, few_shot_epochs: 5}\n")
    (tmp_path / "g.yaml").write_text(text)
    res = cortex.run(tmp_path / "g.yaml", tmp_path / "run", progress=False)
    assert res["schedule"] == "layerwise" and res["accuracy"]["clean"]["model"] > 0.6      # chance is 0.1
    assert (tmp_path / "run" / "fields.png").exists()


def test_sensor_fields_sum_every_pathway_to_the_sensor():
    """R reads A and B, B reads A and the retina, A the retina and a window of it: R's fields over the retina are
    the sum over all five pathways (written out by hand here), each window put back where it was cut."""
    m = Model(cortex.load_spec(text="""name: paths
inputs:
  retina: {shape: [8, 8]}
  left: {of: retina, rows: [0, 8], cols: [0, 5]}
regions:
  A: {kind: predictive, hypotheses: 7, inputs: [retina, left], competition: lateral}
  B: {kind: predictive, hypotheses: 5, inputs: [A, retina], competition: lateral}
  R: {kind: predictive, hypotheses: 3, inputs: [A, B], competition: lateral}
"""))
    FA, FB, FR = (m.compiled.regions[m.compiled.index[n]].region.fields() for n in "ABR")

    def from_a(G):
        P = G @ FA
        left = np.zeros((len(G), 8, 8), np.float32)
        left[:, :, :5] = P[:, 64:].reshape(-1, 8, 5)
        return P[:, :64] + left.reshape(-1, 64)

    def from_b(G):
        P = G @ FB
        return from_a(P[:, :7]) + P[:, 7:]

    got, sensor = m.sensor_fields("R")
    assert sensor == "retina"
    np.testing.assert_allclose(got, from_a(FR[:, :7]) + from_b(FR[:, 7:]), atol=1e-6)
