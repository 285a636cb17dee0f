"""The numbers README.md's scikit-learn example quotes, measured at its full steps (the test
of the README runs the example with ``AELAB_MAX_STEPS``, so it cannot check them): the three
``cross_val_score`` accuracies, the labels and accuracy of the semi-supervised fit (on the
samples whose labels it never saw), the steps early stopping trained, and early stopping
against none on a 70% split of digits with 5,000 fine-tuning steps (steps, held-out
accuracy, seconds of the fit).

    python benchmarks/bench_readme_estimators.py
"""

from __future__ import annotations

import json
import os
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import cross_val_score, train_test_split

import aelab


def main() -> None:
    if os.environ.get("AELAB_MAX_STEPS"):
        raise SystemExit("unset AELAB_MAX_STEPS: these are the numbers of the full steps")
    X, y = load_digits(return_X_y=True)
    clf = aelab.AutoencoderClassifier(
        strategy="finetune-recon",
        hidden=(64,),
        code=10,
        activation="relu",
        pretrain_steps=1000,
        finetune_steps=2000,
    )
    scores = cross_val_score(clf, X, y, cv=3)
    semi = np.where(np.random.default_rng(0).random(len(y)) < 0.95, -1, y)
    hidden = semi == -1
    accuracy = clf.set_params(strategy="joint").fit(X, semi).score(X[hidden], y[hidden])
    stopped = clf.set_params(early_stopping=True).fit(X, y).n_iter_
    numbers = {
        "cross_val_score": [round(float(s), 2) for s in scores],
        "labels": int((~hidden).sum()),
        "semi_supervised_accuracy_on_unlabelled": round(float(accuracy), 2),
        "early_stopping_n_iter": int(stopped),
        "early_stopping_on_70_percent": _early_stopping(clf, X, y),
    }
    print(json.dumps(numbers))


def _early_stopping(clf, X, y) -> dict:
    """Fine-tuning 5,000 steps with and without early stopping, on 70% of digits."""
    fit_x, test_x, fit_y, test_y = train_test_split(
        X, y, train_size=0.7, stratify=y, random_state=0
    )
    out = {}
    for stopping in (True, False):
        model = clf.set_params(strategy="finetune-recon", finetune_steps=5000,
                               early_stopping=stopping)  # fmt: skip
        start = time.perf_counter()
        model.fit(fit_x, fit_y)
        seconds = time.perf_counter() - start
        out["with" if stopping else "without"] = {
            "steps": int(model.n_iter_),
            "held_out_accuracy": round(float(model.score(test_x, test_y)), 3),
            "seconds": round(seconds, 1),
        }
    return out


if __name__ == "__main__":
    main()
