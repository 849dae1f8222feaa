"""The library never imports the command-line layer: importing any module of
``src/sigver`` outside ``sigver.cli`` leaves ``sigver.cli`` out of ``sys.modules``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# Imports each sigver module (except the CLI and the ``__main__`` entry points) with no
# other sigver module loaded, and prints those after whose import sigver.cli is loaded.
PROBE = r"""
import importlib, json, pkgutil, sys
import sigver

names = sorted(m.name for m in pkgutil.walk_packages(sigver.__path__, "sigver."))
checked, loading_cli = [], []
for name in names:
    if name == "sigver.cli" or name.startswith("sigver.cli.") or name.endswith(".__main__"):
        continue
    for loaded in [m for m in sys.modules if m.startswith("sigver.")]:
        del sys.modules[loaded]
    importlib.import_module(name)
    checked.append(name)
    if "sigver.cli" in sys.modules:
        loading_cli.append(name)
print(json.dumps({"checked": checked, "loading_cli": loading_cli}))
"""


@pytest.mark.slow
def test_library_modules_do_not_import_the_cli():
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                          check=True)
    report = json.loads(done.stdout.splitlines()[-1])
    assert {"sigver.wd.test", "sigver.wi.test", "sigver.wd.protocol", "sigver.wi.protocol",
            "sigver.verification.fit", "sigver.demo.pipeline"} <= set(report["checked"])
    assert report["loading_cli"] == []


def test_published_module_commands_are_shims():
    done = subprocess.run(
        [sys.executable, "-c", "import sys, sigver.wd.test, sigver.wi.test; "
         "print(sorted(m for m in sys.modules if m.startswith('sigver.')))"],
        capture_output=True, text=True, check=True)
    assert "sigver.cli" not in done.stdout and "sigver.wd.training" not in done.stdout
