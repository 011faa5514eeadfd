#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian machine with Python 3.11 and runs them all:
# Debian's chromium + chromium-driver (for the browser tests), postgresql and redis-server (the tests
# marked `distributed` start their own PostgreSQL and Redis servers, and put them and Celery workers on
# network namespaces of their own: iproute2), a virtual environment .venv with the pinned requirements,
# then ruff and pytest. Extra arguments go to pytest (e.g. -k draw).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=()
if [ ! -x /usr/bin/chromium ] || ! command -v chromedriver >/dev/null 2>&1; then
  packages+=(chromium chromium-driver)
fi
# PostgreSQL's server programs: on PATH, or where Debian puts them (tests/servers.py looks in both).
if ! command -v initdb >/dev/null 2>&1 && ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
  packages+=(postgresql)
fi
command -v redis-server >/dev/null 2>&1 || packages+=(redis-server)
command -v ip >/dev/null 2>&1 || packages+=(iproute2)
command -v pgrep >/dev/null 2>&1 || packages+=(procps)
if [ ${#packages[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${packages[@]}"
fi

python=$(command -v python3.11 || command -v python3)
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt

.venv/bin/ruff check .  # lint (configured in pyproject.toml): a finding fails the run
export TF_CPP_MIN_LOG_LEVEL=2
exec .venv/bin/python -m pytest "$@"
