"""Shared fixtures: the CLI just built (MV_CLI), the test specs (MV_DATA),
a runner that returns the CLI's output or fails with its stderr."""

import json
import os
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.normpath(os.path.join(HERE, "..", ".."))
CLI = os.environ.get("MV_CLI", os.path.join(TOP, "src", "moeverify"))
DATA = os.environ.get("MV_DATA", os.path.join(TOP, "tests", "data"))

# a spec between example_small (m = 1) and the paper setting: several
# students and teachers, init blocks (generated vectors), seconds to run
MID_SPEC = {"d": 40, "teacher": {"m": 3, "init": {"kind": "orthonormal", "seed": 1}},
            "student": {"m": 6, "init": {"kind": "gaussian", "seed": 7}}}


def run_cli(*args, cwd=None):
    p = subprocess.run([CLI] + [str(a) for a in args], cwd=cwd, capture_output=True,
                       text=True, env=dict(os.environ, MV_NO_PROGRESS="1"))
    if p.returncode != 0:
        pytest.fail("moeverify %s: exit %d: %s" % (" ".join(map(str, args)), p.returncode,
                                                   p.stderr.strip()))
    return p.stdout


@pytest.fixture
def cli():
    if not os.access(CLI, os.X_OK):
        pytest.skip("CLI not built: %s" % CLI)
    return run_cli


@pytest.fixture
def data():
    return lambda name: os.path.join(DATA, name)


@pytest.fixture
def mid_spec(tmp_path):
    path = tmp_path / "mid.json"
    path.write_text(json.dumps(MID_SPEC))
    return str(path)
