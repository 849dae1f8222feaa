"""The error types for user mistakes (bad files, bad parameters, bad data).

Library code names the *Python* parameter that is wrong (``ParameterError``); the
command-line layer (the ``cli`` package) maps parameter names onto its flags, so the same
mistake reads ``num_gen_test=30: ...`` from Python and ``--gen-for-test 30: ...`` from the
shell. The command line prints these as one line without a traceback; anything else is a
bug and keeps its traceback.
"""

from __future__ import annotations

from typing import Any


class SigverError(ValueError):
    """A problem with the user's input, described in one line that names the file or
    parameter."""


class ParameterError(SigverError):
    """A bad value of one named parameter.

    Parameters
    ----------
    param
        The Python parameter's name (``"num_gen_test"``, ``"canvas_size"``, ...).
    value
        The value given (shown after the name; tuples are shown space-separated on the
        command line, as they are typed there).
    problem
        What is wrong and, where possible, what to pass instead.
    """

    def __init__(self, param: str, value: Any, problem: str) -> None:
        self.param = param
        self.value = value
        self.problem = problem
        super().__init__(f"{param}={value!r}: {problem}")

    def for_flag(self, flag: str) -> str:
        """The same message with the command-line flag in place of the parameter."""
        if isinstance(self.value, bool) or self.value is None:
            return f"{flag}: {self.problem}"
        if isinstance(self.value, (tuple, list)):
            shown = " ".join(str(v) for v in self.value)
        else:
            shown = str(self.value)
        return f"{flag} {shown}: {self.problem}"
