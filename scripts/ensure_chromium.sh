#!/usr/bin/env bash
# The daily brief is rendered to PNG by headless Chromium, and its test checks that rendering.
# Chromium is a system package, so the project installs Debian's when none is on the PATH.
set -euo pipefail
for binary in chromium chromium-browser google-chrome google-chrome-stable; do
    if command -v "$binary" >/dev/null 2>&1; then exit 0; fi
done
if ! command -v apt-get >/dev/null 2>&1; then
    echo "Chromium is missing and this is not a Debian/Ubuntu machine: install Chromium" >&2
    exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "installing Debian's chromium (headless rendering of the daily risk brief) ..."
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
