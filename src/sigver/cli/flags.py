"""Library errors name Python parameters; commands show flags (``ParameterError``)."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator, Mapping

from sigver.errors import ParameterError, SigverError


def flag_names(parser: argparse.ArgumentParser,
               aliases: Mapping[str, str] | None = None) -> dict[str, str]:
    """``{python parameter: flag}`` for a parser: each option's ``dest`` maps to its
    long flag; ``aliases`` adds the parameters whose Python name differs from the
    ``dest`` (``{"num_gen_test": "--gen-for-test"}``)."""
    names = {}
    for action in parser._actions:
        longs = [o for o in action.option_strings if o.startswith("--")]
        if longs:
            names[action.dest] = longs[0]
    names.update(aliases or {})
    return names


@contextlib.contextmanager
def as_flags(parser: argparse.ArgumentParser,
             aliases: Mapping[str, str] | None = None) -> Iterator[None]:
    """Re-word a ``ParameterError`` raised inside the block with the parser's flag."""
    try:
        yield
    except ParameterError as exc:
        flag = flag_names(parser, aliases).get(exc.param)
        if flag is None:
            raise
        raise SigverError(exc.for_flag(flag)) from None
