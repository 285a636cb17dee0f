"""The scikit-learn estimators: scikit-learn's own checks, and use inside its tools."""

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from aelab import AutoencoderClassifier, AutoencoderTransformer, ConfigError
from aelab.estimators.fitting import Watch

# Short trainings: scikit-learn's checks fit dozens of times on small data.
FAST = {"pretrain_steps": 200, "finetune_steps": 400}
TINY = {"pretrain_steps": 50, "finetune_steps": 100}  # tests of settings, not of learning


def _expected_failures(estimator) -> dict[str, str]:
    if isinstance(estimator, AutoencoderClassifier):
        return {
            "check_classifiers_classes": (
                "a label of -1 marks an unlabelled sample, as in scikit-learn's own "
                "semi-supervised classifiers (which this check exempts by name), so its binary "
                "problem with labels -1 and 1 has one class"
            )
        }
    return {}


# Each check fits new shapes, and each fit compiles (about 1.5 s of CPU), so the transformer
# is checked once, with early stopping: without it, its fit is the pretraining that the
# classifiers' checks run, and its methods are the same.
@parametrize_with_checks(
    [
        AutoencoderClassifier(**FAST),
        AutoencoderClassifier(strategy="joint", hidden=(8,), code=3, **FAST),
        AutoencoderTransformer(pretrain_steps=200, early_stopping=True, verbose=1),
    ],
    expected_failed_checks=_expected_failures,
)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


def test_classifier_learns_iris_and_transform_gives_the_code(iris):
    X, y = iris
    clf = AutoencoderClassifier(pretrain_steps=1000, finetune_steps=2000).fit(X, y)
    assert clf.score(X, y) > 0.95
    assert clf.transform(X).shape == (150, 2)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(X))
    assert clf.loss_curve_.shape == (2000,) and clf.loss_curve_[-1] < clf.loss_curve_[0]


def test_string_labels_come_back_as_strings(iris):
    X, y = iris
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = AutoencoderClassifier(**FAST).fit(X, names)
    assert clf.classes_.tolist() == ["setosa", "versicolor", "virginica"]
    assert set(clf.predict(X)) <= set(names)


def test_minus_one_marks_unlabelled_samples(iris):
    """Their labels are never read: any label at the unlabelled positions gives the same
    model, and the unlabelled samples still shape the code through reconstruction."""
    X, y = iris
    hidden = np.random.default_rng(0).random(150) < 0.85
    semi = np.where(hidden, -1, y)
    params = dict(strategy="joint", **FAST)
    a = AutoencoderClassifier(**params).fit(X, semi)
    assert a.n_labelled_ == int((~hidden).sum()) and a.classes_.tolist() == [0, 1, 2]
    # Drop the unlabelled samples instead: a different model (they did take part).
    b = AutoencoderClassifier(**params).fit(X[~hidden], y[~hidden])
    assert not np.allclose(a.transform(X), b.transform(X))
    assert a.score(X[hidden], y[hidden]) > 0.8


def test_fits_are_reproducible_and_random_state_matters(iris):
    X, y = iris
    a, b = (AutoencoderClassifier(**FAST).fit(X, y).transform(X) for _ in range(2))
    np.testing.assert_array_equal(a, b)
    c = AutoencoderClassifier(random_state=1, **FAST).fit(X, y).transform(X)
    assert not np.allclose(a, c)


def test_in_a_pipeline_cross_validation_and_grid_search(iris):
    X, y = iris
    pipe = make_pipeline(StandardScaler(), AutoencoderClassifier(scaling="none", **FAST))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.8
    search = GridSearchCV(
        AutoencoderClassifier(**FAST), {"strategy": ["supervised", "finetune-recon"]}, cv=2
    ).fit(X, y)
    assert search.best_params_["strategy"] in ("supervised", "finetune-recon")
    assert search.best_score_ > 0.8


def test_transformer_round_trip_and_pipeline(iris):
    X, y = iris
    ae = AutoencoderTransformer(hidden=(8,), pretrain_steps=2000).fit(X)
    z = ae.transform(X)
    assert z.shape == (150, 2)
    x_hat = ae.inverse_transform(z)
    assert x_hat.shape == X.shape
    assert np.abs(x_hat - X).mean() < 0.25 * np.abs(X - X.mean(axis=0)).mean()
    pipe = make_pipeline(AutoencoderTransformer(pretrain_steps=500), AutoencoderClassifier(**FAST))
    assert pipe.fit(X, y).score(X, y) > 0.8


@pytest.mark.parametrize(
    "estimator, message",
    [
        (AutoencoderClassifier(strategy="magic"), "strategy: unknown strategy 'magic'"),
        (AutoencoderClassifier(code=0), "model.code must be an integer >= 1"),
        (AutoencoderClassifier(scaling="log"), "scaling: unknown scaling 'log'"),
        (AutoencoderClassifier(learning_rate=-1.0), "train.learning_rate must be > 0"),
        (AutoencoderTransformer(family="ladder"), "a ladder network cannot decode"),
        (AutoencoderClassifier(validation_fraction=1.5), "validation_fraction must be a number"),
        (AutoencoderClassifier(n_iter_no_change=0), "n_iter_no_change must be an integer >= 1"),
        (AutoencoderTransformer(tol=-1), "tol must be a number >= 0, got -1"),
    ],
)
def test_bad_parameters_are_one_line_value_errors(iris, estimator, message):
    X, y = iris
    with pytest.raises(ConfigError, match=message) as info:
        estimator.fit(X, y)
    assert isinstance(info.value, ValueError) and "\n" not in str(info.value)


def test_one_class_only_is_refused(iris):
    X, y = iris
    semi = np.where(y == 0, 0, -1)
    with pytest.raises(ValueError, match=r"at least two classes; got 1 class"):
        AutoencoderClassifier(**FAST).fit(X, semi)


def test_a_batch_larger_than_the_data_is_the_command_lines_error(iris):
    X, y = iris
    with pytest.raises(ConfigError, match="train.batch_size=500 is not smaller than the 150"):
        AutoencoderClassifier(batch_size=500, **FAST).fit(X, y)


def test_numpy_numbers_from_search_grids_are_accepted(iris):
    X, y = iris
    clf = AutoencoderClassifier(
        code=np.int64(3), hidden=(np.int64(6),), pretrain_steps=np.int64(100),
        finetune_steps=np.int64(200), learning_rate=np.float32(0.01),
    ).fit(X, y)  # fmt: skip
    assert clf.transform(X).shape == (150, 3)
    search = GridSearchCV(AutoencoderClassifier(**FAST), {"code": np.arange(2, 4)}, cv=2)
    assert search.fit(X, y).best_params_["code"] in (2, 3)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"pretrain_steps": "20"}, "train.pretrain_steps must be an integer >= 1, got '20'"),
        ({"finetune_steps": None}, "train.finetune_steps must be an integer >= 1, got None"),
        ({"batch_size": "10"}, "train.batch_size must be an integer >= 1, got '10'"),
        ({"strategy": ["joint"]}, "strategy: unknown strategy ['joint']"),
    ],
)
def test_parameters_of_the_wrong_type_are_value_errors_too(iris, params, message):
    X, y = iris
    with pytest.raises(ConfigError) as info:
        AutoencoderClassifier(**params).fit(X, y)
    assert message in str(info.value)


def test_minus_one_as_a_class_is_explained(iris):
    X, y = iris
    signs = np.where(y == 0, -1, 1)
    with pytest.raises(ValueError, match=r"-1 marks an unlabelled sample; if -1 is one of"):
        AutoencoderClassifier(**FAST).fit(X, signs)


@pytest.mark.parametrize("marker", [-1, "-1"])
def test_string_labels_with_minus_one_unlabelled(iris, marker):
    """As scikit-learn's semi-supervised estimators: ``-1`` (or ``"-1"``) among string labels
    in an object array marks an unlabelled sample."""
    X, y = iris
    names = np.array(["setosa", "versicolor", "virginica"], dtype=object)[y]
    hidden = np.random.default_rng(0).random(150) < 0.5
    semi = np.where(hidden, marker, names).astype(object)
    clf = AutoencoderClassifier(**TINY).fit(X, semi)
    assert clf.classes_.tolist() == ["setosa", "versicolor", "virginica"]
    assert clf.n_labelled_ == int((~hidden).sum())
    assert set(clf.predict(X)) <= set(clf.classes_)
    as_str = np.where(hidden, "-1", names.astype(str))  # a plain string array too
    assert AutoencoderClassifier(**TINY).fit(X, as_str).n_labelled_ == clf.n_labelled_


def test_verbose_prints_a_line_per_phase_to_stderr_and_silence_by_default(iris, capsys):
    X, y = iris
    clf = AutoencoderClassifier(**TINY).fit(X, y)
    assert capsys.readouterr() == ("", "")
    assert clf.n_iter_ == 100
    AutoencoderClassifier(verbose=1, **TINY).fit(X, y)
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert out == "" and len(lines) == 2
    assert lines[0].startswith("AutoencoderClassifier pretraining: 50 steps, loss ")
    assert lines[1].startswith("AutoencoderClassifier fine-tuning: 100 steps, loss ")
    assert lines[1].endswith(" s")


def test_warm_start_continues_the_fitted_model_without_pretraining(iris, capsys):
    X, y = iris
    longer = AutoencoderClassifier(pretrain_steps=50, finetune_steps=200).fit(X, y)
    clf = AutoencoderClassifier(warm_start=True, verbose=1, **TINY).fit(X, y)
    capsys.readouterr()
    clf.fit(X, y)  # the next 100 steps, from where the first fit ended, with a fresh Adam
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and "fine-tuning: 100 steps" in lines[0]  # no pretraining
    np.testing.assert_allclose(clf.loss_curve_[0], longer.loss_curve_[100], rtol=1e-5)
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    cold = AutoencoderClassifier(**TINY).fit(X, y).fit(X, y)  # warm_start=False: anew
    np.testing.assert_array_equal(cold.loss_curve_, longer.loss_curve_[:100])
    ae = AutoencoderTransformer(pretrain_steps=100, warm_start=True).fit(X)
    first = ae.loss_curve_
    assert ae.fit(X).loss_curve_[0] < 0.5 * first[0]


def test_warm_start_refuses_another_model_or_other_classes(iris):
    X, y = iris
    clf = AutoencoderClassifier(warm_start=True, **TINY).fit(X, y)
    with pytest.raises(ValueError, match=r"warm_start=True .* \(code 3, fitted 2\); keep"):
        clf.set_params(code=3).fit(X, y)
    with pytest.raises(ValueError, match=r"classes are \[0, 1, 2\], but y has \[0, 1\]"):
        clf.set_params(code=2).fit(X, np.minimum(y, 1))
    with pytest.raises(ValueError, match="X has 3 features"):
        clf.fit(X[:, :3], y)


def test_early_stopping_holds_out_labelled_samples_and_keeps_the_best_model(iris):
    X, y = iris
    clf = AutoencoderClassifier(
        early_stopping=True, n_iter_no_change=3, pretrain_steps=50, finetune_steps=2000
    ).fit(X, y)
    scores = clf.validation_scores_
    assert clf.n_iter_ < 2000 and clf.n_iter_ == 40 * len(scores)  # checked every 2000 // 50
    assert clf.best_validation_score_ == max(scores)
    assert clf.n_labelled_ == 135  # 10% held out, stratified, seeded by random_state
    _, held = train_test_split(np.arange(150), test_size=0.1, stratify=y, random_state=0)
    assert clf.score(X[held], y[held]) == clf.best_validation_score_  # the best is kept
    plain = AutoencoderClassifier(**TINY).fit(X, y)
    assert plain.validation_scores_ is None and plain.best_validation_score_ is None


def test_early_stopping_of_the_transformer_watches_reconstruction(iris):
    X, _ = iris
    ae = AutoencoderTransformer(early_stopping=True, pretrain_steps=200).fit(X)
    scores = np.asarray(ae.validation_scores_)  # minus the held-out mean squared error
    assert (scores < 0).all() and scores[-1] > scores[0]
    assert ae.best_validation_score_ == scores.max() and ae.n_iter_ == 4 * len(scores)


def test_early_stopping_rule_is_mlpclassifiers():
    """A check that does not beat the best by ``tol`` is stale; more than ``patience`` stale
    checks in a row stop; the best parameters are kept even when within ``tol``."""
    sequence = iter([0.5, 0.7, 0.705, 0.69, 0.72, 0.7, 0.7, 0.7])
    watch = Watch("finetune", lambda params: next(sequence), patience=2, tol=0.01)
    stops = [watch.check(params=k) for k in range(8)]
    assert stops == [False, False, False, False, False, False, False, True]
    assert watch.best == 4 and watch.best_score == 0.72


def test_early_stopping_needs_a_held_out_sample_of_every_class(iris):
    X, y = iris
    with pytest.raises(ConfigError, match=r"early_stopping: validation_fraction=0.01 of the 150"):
        AutoencoderClassifier(early_stopping=True, validation_fraction=0.01, **TINY).fit(X, y)
