"""The error type for user mistakes (bad files, bad flags, bad data).

The command line prints these as one line without a traceback; anything else is a bug
and keeps its traceback.
"""


class SigverError(ValueError):
    """A problem with the user's input, described in one line that names the file or flag."""
