#!/usr/bin/env bash
# Install the Debian packages the test suite needs (run by `make test`).
# As root: installs them with apt-get. Otherwise: prints the command to run and fails.
set -euo pipefail
# One place to list them. Each line: package  command (or absolute file) that proves it is installed
#   slurm*/munge: the single-node SLURM test; chromium + fonts: the report's headless-browser test
read -r -d '' PACKAGES <<'LIST' || true
slurmctld slurmctld
slurmd slurmd
slurm-client sinfo
munge munged
chromium chromium
fonts-dejavu-core /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
LIST
missing=()
while read -r pkg probe; do
  [ -z "${pkg:-}" ] && continue
  if [[ "$probe" == /* ]]; then
    [ -e "$probe" ] || missing+=("$pkg")
  else
    command -v "$probe" >/dev/null 2>&1 || missing+=("$pkg")
  fi
done <<<"$PACKAGES"
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
  echo "Installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "These Debian packages are needed: ${missing[*]}" >&2
  echo "Install them as root, then rerun:  sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
