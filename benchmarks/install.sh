#!/usr/bin/env bash
# Install the competing Python BGP codecs that benchmarks/codec/competitors.py measures.
# Usage: PY=path/to/python bash benchmarks/install.sh   (default PY=.venv/bin/python)
set -euo pipefail

PY="${PY:-.venv/bin/python}"

"$PY" -m pip install -q --disable-pip-version-check 'exabgp>=5,<6' 'scapy>=2.5' 'os-ken>=2.8'

# yabgp 0.8.2 is an sdist only (pbr-based) whose pinned runtime requirements (Twisted 16,
# Flask 1.0, oslo.config 2.1, pysubnettree ...) do not install on Python 3.11.  Build it
# without isolation against an older setuptools (plus wheel, which setuptools < 70.1 needs
# for bdist_wheel) and skip its requirements.
"$PY" -m pip install -q --disable-pip-version-check 'setuptools<70' wheel
"$PY" -m pip install -q --disable-pip-version-check --no-build-isolation --no-deps 'yabgp==0.8.2'
# The only runtime requirement its message codec (yabgp.message.*) imports.
"$PY" -m pip install -q --disable-pip-version-check 'netaddr>=0.7.12'

"$PY" - <<'PYEOF'
import importlib
for name in ("exabgp.bgp.message", "scapy.contrib.bgp", "os_ken.lib.packet.bgp", "yabgp.message.update"):
    importlib.import_module(name)
print("benchmark competitors importable: exabgp, scapy, os-ken, yabgp")
PYEOF
