#!/usr/bin/env bash
# Installs everything hearthcam needs on a fresh Debian machine: system packages, a virtualenv
# in .venv with the project (editable) and its dev tools. Safe to run again; it skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  # GStreamer RTSP server (real camera stand-in for tests and benchmarks)
  python3-gi gir1.2-gstreamer-1.0 gir1.2-gst-rtsp-server-1.0
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav
  # real footage that ships with Debian: vtest.avi (pedestrians), dog.jpg / person.jpg
  opencv-doc darknet
  # a real dog filmed on a phone (forensics-samples' movie1, CC-BY-SA-4.0): real footage of a pet
  forensics-samples-files
  # Debian's motion daemon: the baseline for the motion-only CPU comparison
  motion
  # a real MQTT broker for the alert tests (started by the tests on loopback, not as a service)
  mosquitto
  # the browser the web UI tests drive through Playwright (never `playwright install`)
  chromium
  # PostgreSQL, which the migration tests run against (a throwaway cluster, not the service)
  postgresql
  # unshare and ip: the Ray cluster tests run their nodes in a loopback-only network namespace
  util-linux iproute2
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # the motion package enables a system service; hearthcam only runs it on demand in the benchmark
  (command -v systemctl >/dev/null && $SUDO systemctl disable --now motion mosquitto postgresql >/dev/null 2>&1) || true
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[dev]'
echo "hearthcam is set up: .venv/bin/hearthcam"
