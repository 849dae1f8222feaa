"""Every subcommand's ``--help``, read as a user reads it: its own prog name, help text
for every flag and at most one default per flag."""

from __future__ import annotations

import re

import pytest

from sigver.cli import SUBCOMMANDS, main

# Commands with actions show each action's help too.
ACTIONS = {"wi": [["fit"]], "keys": [["create"], ["list"], ["revoke"]]}
CASES = [[name] for name in sorted(SUBCOMMANDS)] + [
    [name, *action] for name, actions in ACTIONS.items() for action in actions]


def _help(argv, capsys) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--help"])
    assert exit_info.value.code == 0
    return capsys.readouterr().out


def _entries(text: str) -> list[list[str]]:
    """The option entries of a help text: the invocation line and its help lines."""
    entries: list[list[str]] = []
    for line in text.splitlines():
        if re.match(r"^  -", line):
            entries.append([line])
        elif entries and re.match(r"^\s{3,}\S", line) and entries[-1] is not None:
            entries[-1].append(line)
        elif entries:
            entries.append(None)  # a section heading or blank line ends the entry
    return [entry for entry in entries if entry is not None]


@pytest.mark.parametrize("argv", CASES, ids=" ".join)
def test_help_shows_the_prog_help_for_every_flag_and_one_default(argv, capsys):
    text = _help(argv, capsys)
    assert text.startswith(f"usage: sigver {' '.join(argv)}"), text.splitlines()[0]
    entries = _entries(text)
    assert entries, text
    for entry in entries:
        invocation = entry[0].strip()
        has_help = re.search(r"\S\s{2,}\S", invocation) or len(entry) > 1
        assert has_help, f"sigver {' '.join(argv)}: {invocation} has no help"
        assert len(re.findall(r"default", " ".join(entry))) <= 1, entry
