"""aelab inside scikit-learn: a classifier and a transformer with the usual methods.

:class:`AutoencoderClassifier` trains one strategy (pretraining included when the strategy
starts from it) and predicts with the softmax head; ``transform`` gives the code.
:class:`AutoencoderTransformer` pretrains an autoencoder: ``transform`` encodes,
``inverse_transform`` decodes. Both are plans of the same trainer as ``aelab run``, with its
settings and its checks.

Their parameters are the settings of ``aelab run`` of their names, read from the config
classes (so a model family's own settings are parameters too), plus ``scaling``,
``random_state`` and scikit-learn's ``verbose``, ``warm_start`` and ``early_stopping`` (with
``validation_fraction``, ``n_iter_no_change`` and ``tol``). As in scikit-learn's
semi-supervised estimators, a label of ``-1`` (``-1`` or ``"-1"`` among string labels)
marks an unlabelled sample: the cross-entropy never sees it, the reconstruction term (and
pretraining) does.

>>> from sklearn.datasets import load_iris
>>> from aelab import AutoencoderClassifier
>>> X, y = load_iris(return_X_y=True)
>>> clf = AutoencoderClassifier(strategy="finetune-recon").fit(X, y)
>>> clf.transform(X).shape
(150, 2)
"""

from aelab.estimators.classifier import AutoencoderClassifier
from aelab.estimators.transformer import AutoencoderTransformer

__all__ = ["AutoencoderClassifier", "AutoencoderTransformer"]
