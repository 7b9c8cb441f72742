"""The scikit-learn estimators: the conformance suite, the digits bar, online learning, any sensor, overrides."""
import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from cortex import CortexError, SpecError
from cortex.estimators import GraphClassifier, GraphTransformer


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


@parametrize_with_checks([GraphClassifier(), GraphTransformer()])
def test_scikit_learn_conformance(estimator, check):
    check(estimator)


@pytest.mark.parametrize("seed", [0, pytest.param(1, marks=pytest.mark.slow), pytest.param(2, marks=pytest.mark.slow)])
def test_cross_validated_accuracy_on_the_digits_is_at_least_0_9(digits, seed):
    # measured at random_state 0 / 1 / 2: folds 0.967 0.968 0.952 / 0.950 0.965 0.962 / 0.952 0.963 0.960
    X, y = digits
    scores = cross_val_score(GraphClassifier("digits", random_state=seed), X, y, cv=3)
    assert scores.mean() >= 0.93 and scores.min() >= 0.9, scores


def test_pipeline_and_grid_search_reach_graph_keys(digits):
    X, y = digits
    X, y = X[:450], y[:450]
    search = GridSearchCV(make_pipeline(MinMaxScaler(), GraphClassifier(random_state=0, epochs=2)),
                          {"graphclassifier__IT__factors": [0, 8]}, cv=3).fit(X * 16, y)
    scores = search.cv_results_["mean_test_score"]
    assert search.best_params_ == {"graphclassifier__IT__factors": 8}   # factors explain within-class variation
    assert scores[1] > scores[0] + 0.02 and scores[1] > 0.85, scores
    assert search.best_estimator_[-1].model_.spec.regions["IT"].factors == 8


def test_partial_fit_learns_online_and_needs_the_classes_first(digits):
    X, y = digits
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    clf = GraphClassifier(random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X_train[:50], y_train[:50])
    clf.partial_fit(X_train[:20], y_train[:20], classes=np.arange(10))
    early = clf.score(X_test, y_test)
    for chunk in np.array_split(np.arange(len(X_train)), 8):
        clf.partial_fit(X_train[chunk], y_train[chunk])
    late = clf.score(X_test, y_test)
    assert late > 0.9 and late > early + 0.1, (early, late)
    with pytest.raises(ValueError, match="not among classes"):
        clf.partial_fit(X_train[:5], np.full(5, 11))


def test_predict_proba_is_the_readouts_distribution_and_string_labels_work(digits):
    X, y = digits
    names = np.array(list("abcdefghij"))[y[:400]]
    clf = GraphClassifier(random_state=0, epochs=2).fit(X[:300], names[:300])
    proba = clf.predict_proba(X[300:400])
    assert proba.shape == (100, 10) and np.allclose(proba.sum(axis=1), 1.0) and (proba >= 0).all()
    assert list(clf.classes_) == list("abcdefghij")
    assert (clf.predict(X[300:400]) == clf.classes_[proba.argmax(axis=1)]).all()
    assert clf.score(X[300:400], names[300:400]) > 0.8


def test_any_sensor_shape_resizes_the_input_and_the_readout():
    rng = np.random.default_rng(0)
    centres = rng.uniform(0, 1, (3, 5, 6))
    y = rng.integers(0, 3, 240)
    X = centres[y] + rng.normal(0, 0.15, (240, 5, 6))
    clf = GraphClassifier(random_state=0).fit(X[:180], y[:180])
    spec = clf.model_.spec
    assert spec.inputs["retina"].shape == (5, 6) and spec.regions["IT"].hypotheses == 3
    assert spec.inputs["label"].shape == (3,) and clf.input_shape_ == (5, 6)
    assert clf.score(X[180:], y[180:]) > 0.9
    with pytest.raises(ValueError, match="features"):          # rows must keep the sensor shape it learned
        clf.predict(X[180:].reshape(60, 30))
    with pytest.raises(ValueError, match=r"sensor shape \(5, 5\), but GraphClassifier was fitted on \(5, 6\)"):
        clf.predict(X[180:, :, :5])


def test_input_and_readout_are_inferred_or_named():
    two_inputs = {"name": "two", "inputs": {"eye": {"shape": [4]}, "ear": {"shape": [3]}},
                  "regions": {"A": {"hypotheses": 4, "inputs": ["eye", "ear"], "competition": "softmax"},
                              "B": {"hypotheses": 2, "inputs": ["A"], "competition": "softmax"}},
                  "settle": {"steps": 10}}
    X, y = np.random.default_rng(0).uniform(0, 1, (40, 4)), np.arange(40) % 2
    with pytest.raises(CortexError, match="inputs eye, ear besides teachers; name one with input="):
        GraphClassifier(two_inputs).fit(X, y)
    with pytest.raises(CortexError, match="is not an input of the graph; its inputs are eye, ear"):
        GraphClassifier(two_inputs, input="nose").fit(X, y)
    with pytest.raises(CortexError, match="X feeds input 'eye', but the graph also needs ear"):
        GraphClassifier(two_inputs, input="eye").fit(X, y)
    one_input = {**two_inputs, "inputs": {"eye": {"shape": [4]}},
                 "regions": {**two_inputs["regions"], "A": {**two_inputs["regions"]["A"], "inputs": ["eye"]}}}
    clf = GraphClassifier(one_input, random_state=0).fit(X, y)
    assert (clf.input_, clf.readout_, clf.teacher_) == ("eye", "B", "label")   # the top region, given a teacher
    assert clf.model_.spec.regions["B"].teacher == "label"
    assert GraphClassifier(one_input, readout="A").fit(X, y).model_.spec.regions["A"].hypotheses == 2
    with pytest.raises(CortexError, match="readout='C' is not a region of the graph; its regions are A, B"):
        GraphClassifier(one_input, readout="C").fit(X, y)


def test_overrides_are_parameters_that_clone_keeps_and_fit_checks(digits):
    X, y = digits
    clf = GraphClassifier(IT__factors=2, settle__steps=7, random_state=5, epochs=1)
    params = clf.get_params()
    assert params["IT__factors"] == 2 and params["settle__steps"] == 7
    twin = clone(clf)
    assert twin.get_params() == params
    twin.fit(X[:100], y[:100])
    spec = twin.model_.spec
    assert (spec.regions["IT"].factors, spec.settle.steps, spec.seed) == (2, 7, 5)
    with pytest.raises(SpecError, match="regions.IT.factors"):
        GraphClassifier(IT__factors=-1).fit(X[:50], y[:50])
    with pytest.raises(SpecError, match="unknown parameter 'epoch'; did you mean 'epochs'"):
        GraphClassifier(epoch=2).fit(X[:50], y[:50])
    with pytest.raises(SpecError, match="unknown parameter 'ITT__factors'; did you mean 'IT'"):
        GraphClassifier(ITT__factors=2).fit(X[:50], y[:50])


def test_random_state_is_the_graph_seed(digits):
    X, y = digits
    a = GraphClassifier(random_state=3, epochs=1).fit(X[:200], y[:200]).predict_proba(X[200:260])
    b = GraphClassifier(random_state=3, epochs=1).fit(X[:200], y[:200]).predict_proba(X[200:260])
    c = GraphClassifier(random_state=4, epochs=1).fit(X[:200], y[:200]).predict_proba(X[200:260])
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-3
    assert GraphClassifier(epochs=1).fit(X[:40], y[:40]).model_.spec.seed == 0   # None keeps the graph's seed


def test_a_pickled_classifier_predicts_the_same(digits):
    X, y = digits
    clf = GraphClassifier(random_state=0, epochs=1).fit(X[:200], y[:200])
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X[200:250]), clf.predict_proba(X[200:250]))
    again.partial_fit(X[250:300], y[250:300])   # and it can go on learning


def test_transformer_learns_features_without_labels(digits):
    X, y = digits
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)
    codes = GraphTransformer(random_state=0, epochs=3)
    pipe = make_pipeline(codes, LogisticRegression(max_iter=3000)).fit(X_train, y_train)
    assert pipe.score(X_test, y_test) > 0.93          # measured 0.961 (pixels: 0.967)
    features = codes.transform(X_test[:5])
    assert features.shape == (5, 64) and (features >= 0).all() and (features > 0).mean() < 0.9
    assert list(codes.get_feature_names_out()[:2]) == ["V1_0", "V1_1"]
    assert codes.training_energy_[-1] < codes.training_energy_[0]    # learning explains the digits better


def test_transformer_drops_teachers_and_reads_a_named_region(digits):
    X, _ = digits
    t = GraphTransformer("digits", region="IT", IT__hypotheses=12, random_state=0).fit(X[:100])
    assert "label" not in t.model_.spec.inputs and t.model_.spec.regions["IT"].teacher is None
    assert t.transform(X[:7]).shape == (7, 12)
    with pytest.raises(CortexError, match="region='V9' is not a region of the graph; its regions are IT"):
        GraphTransformer("digits", region="V9").fit(X[:20])


def test_fill_in_reads_occluded_digits_better_and_survives_pickling(digits):
    """``fill_in=2`` as in ``cortex run digits``: occluded test digits gain (measured +0.058 / +0.014 / +0.036 at
    seeds 0-2, 0.606 -> 0.664 at seed 0), clean ones read the same (0.978 both at seed 0)."""
    from cortex.stimuli.digits import occlude

    X, y = digits
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)
    occluded = occlude(X_te.astype(np.float32), 0.25, np.random.default_rng(2))[0]
    once = GraphClassifier(random_state=0).fit(X_tr, y_tr)
    filled = GraphClassifier(random_state=0, fill_in=2).fit(X_tr, y_tr)
    assert "fill_in_threshold_" not in vars(once) and 0.5 < filled.fill_in_threshold_ < 1.0
    assert filled.score(occluded, y_te) >= once.score(occluded, y_te) + 0.03
    assert abs(filled.score(X_te, y_te) - once.score(X_te, y_te)) <= 0.01
    again = pickle.loads(pickle.dumps(filled))
    np.testing.assert_array_equal(again.predict_proba(occluded[:40]), filled.predict_proba(occluded[:40]))


def test_the_fill_in_gate_leaves_noisy_digits_to_one_settle(digits):
    """``fill_in_gate=0.2``: only images whose residual piles up in one 4x4 patch are filled. Measured at seeds 0-2:
    noisy digits read +0.013 / +0.008 / +0.014 better than with every image filled (as one settle reads them, to
    within 0.003), occluded ones the same to the last digit."""
    from cortex.stimuli.digits import add_noise, occlude

    X, y = digits
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)
    occluded = occlude(X_te.astype(np.float32), 0.25, np.random.default_rng(2))[0]
    noisy = add_noise(X_te, 0.3, np.random.default_rng(1)).astype(np.float32)
    once = GraphClassifier(random_state=0).fit(X_tr, y_tr)
    every = GraphClassifier(random_state=0, fill_in=2).fit(X_tr, y_tr)
    gated = GraphClassifier(random_state=0, fill_in=2, fill_in_gate=0.2).fit(X_tr, y_tr)
    assert gated.fill_in_gate_threshold_ > 1.0 and every.fill_in_gate_threshold_ is None
    assert gated.score(noisy, y_te) >= every.score(noisy, y_te) + 0.005
    assert gated.score(noisy, y_te) >= once.score(noisy, y_te) - 0.005
    assert gated.score(occluded, y_te) == every.score(occluded, y_te)
    with pytest.raises(ValueError, match="fill_in_gate"):
        GraphClassifier(fill_in=1, fill_in_gate=1.0).fit(X[:100], y[:100])


def test_fill_in_refuses_what_it_cannot_fill(digits):
    X, y = digits
    with pytest.raises(ValueError, match=r"needs a 2-D sensor; input 'retina' has shape \(6,\)"):
        GraphClassifier(fill_in=1, epochs=1).fit(np.random.default_rng(0).uniform(size=(60, 6)), np.arange(60) % 3)
    with pytest.raises(ValueError, match="fill_in_candidates=11 exceeds the 10 classes"):
        GraphClassifier(fill_in=1, fill_in_candidates=11, epochs=1).fit(X[:100], y[:100])
    with pytest.raises(ValueError, match="fill_in_quantile"):
        GraphClassifier(fill_in=1, fill_in_quantile=1.5).fit(X[:100], y[:100])
