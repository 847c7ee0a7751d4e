"""The one exception type the CLI turns into a one-line message and exit status 2."""


class TrainerError(Exception):
    """A problem with the user's inputs (files, manifest, options), found before training.

    The message should name the offending file or option, because it is printed as-is:
    a user fixing a shard directory needs to know which file is wrong, not a traceback.
    """
