"""Package layering: ``sigver.verification`` builds on ``sigver.wi``, never the reverse,
and ``import sigver.wd`` / ``sigver.wi`` stay cheap until a protocol runs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PROBE = r"""
import importlib, json, pkgutil, sys
import sigver.wi, sigver.verification
cheap = sorted(m for m in ("sklearn", "torch") if m in sys.modules)
from sigver.wd import run as run_wd
from sigver.wi import run as run_wi
names = sorted(m.name for m in pkgutil.walk_packages(sigver.wi.__path__, "sigver.wi."))
for name in names:
    importlib.import_module(name)
print(json.dumps({"cheap": cheap, "wi_modules": names,
                  "runs": [run_wd.__module__, run_wi.__module__],
                  "verification": sorted(m for m in sys.modules
                                         if m.startswith("sigver.verification."))}))
"""


@pytest.mark.slow
def test_wi_does_not_import_verification_and_packages_import_cheaply():
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                          check=True)
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["cheap"] == []
    assert report["runs"] == ["sigver.wd.protocol", "sigver.wi.protocol"]
    assert {"sigver.wi.classifier", "sigver.wi.training", "sigver.wi.protocol",
            "sigver.wi.test"} <= set(report["wi_modules"])
    assert report["verification"] == []
