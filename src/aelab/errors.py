"""User-facing errors.

Everything a user can get wrong (a setting, a file, a name) raises a subclass of
:class:`AelabError` whose message is one line naming the culprit and the fix. The CLI turns
these into ``aelab: error: <message>`` and exit status 2; anything else is a bug. What may be
a mistake but stops nothing is a :class:`DataWarning`.
"""


class AelabError(ValueError):
    """Base class of the errors caused by user input."""


class ConfigError(AelabError):
    """A setting, config file or command-line value is invalid."""


class DataError(AelabError):
    """A dataset cannot be used as given."""


class TrainingError(AelabError):
    """Training went wrong in a way the settings can fix (a loss that became NaN)."""


class CheckpointError(AelabError):
    """A checkpoint file is missing, corrupt or does not match the model."""


class RunFolderError(ConfigError):
    """A run or sweep folder given is not one, or a file in it is damaged."""


class DataWarning(UserWarning):
    """Data that loads but may not be what the user meant (a label column that looks like an
    id). The CLI prints it as ``aelab: warning: <message>``; it stops nothing."""
