"""What the subcommands share: help with one default per flag, and library messages as a
command-line user reads them.

``HelpFormatter`` appends ``(default: X)`` to a flag's help unless the help already says
its default or there is none to show (a required flag, an off switch, no value).

Library code names Python parameters (``crop_oversize=True``, ``canvas_size``) also in
errors that are not about one parameter's value (e.g. a file whose signature is larger
than the canvas, with the remedy); ``parameters_as_flags`` rewrites those mentions with
the command's flags. ``one_line_warnings`` prints warnings as ``sigver: warning: ...``
lines instead of Python's two-line format with the source line.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
import warnings
from collections.abc import Iterator, Mapping

from sigver.cli.flags import as_flags, flag_names
from sigver.errors import ParameterError, SigverError


def reword(text: str, names: Mapping[str, str]) -> str:
    """``text`` with ``param=True`` and ``param`` mentions replaced by their flags.

    Only parameter names with an underscore are replaced (``canvas_size``, never a plain
    word such as ``users`` that ordinary text uses too).
    """
    for param, flag in names.items():
        if "_" not in param:
            continue
        text = re.sub(rf"\b{re.escape(param)}=True\b", flag, text)
        text = re.sub(rf"\b{re.escape(param)}\b", flag, text)
    return text


class HelpFormatter(argparse.HelpFormatter):
    """Defaults shown once: only where the help text does not give one already; lists
    as they are typed (``170 242``)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if ("default" in text or action.required or default is None or default is False
                or default is argparse.SUPPRESS or not action.option_strings):
            return text
        if isinstance(default, list | tuple):
            shown = " ".join(str(v) for v in default) if default else "none"
        else:
            shown = str(default)
        return f"{text} (default: {shown})".replace("%", "%%")


@contextlib.contextmanager
def parameters_as_flags(parser: argparse.ArgumentParser,
                        aliases: Mapping[str, str] | None = None) -> Iterator[None]:
    """``as_flags`` for ``ParameterError``, plus ``reword`` for other one-line errors."""
    try:
        with as_flags(parser, aliases):
            yield
    except ParameterError:
        raise
    except SigverError as exc:
        raise SigverError(reword(str(exc), flag_names(parser, aliases))) from None


@contextlib.contextmanager
def one_line_warnings(parser: argparse.ArgumentParser | None = None,
                      aliases: Mapping[str, str] | None = None) -> Iterator[None]:
    """Show warnings raised inside the block as one ``sigver: warning:`` line each."""
    names = flag_names(parser, aliases) if parser is not None else {}

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        print(f"sigver: warning: {reword(str(message), names)}", file=file or sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield
