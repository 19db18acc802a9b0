#!/usr/bin/env bash
# Installs the system tools the test suite needs when they are missing:
#   espeak-ng  - synthesises the speech used to exercise the real Vosk engine
#   ffmpeg     - decodes audio (the app also falls back to the imageio-ffmpeg wheel,
#                but the tests create Ogg/Opus, MP3 and M4A fixtures with the system binary)
# It only acts on Debian/Ubuntu (apt-get) as root or with passwordless sudo; elsewhere it
# says what to install and fails, so a test run never silently skips the speech tests.
set -euo pipefail

missing=()
command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)
command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "Installing system packages: ${missing[*]}"
if command -v apt-get >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then
        sudo=()
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo=(sudo -n)
    else
        echo "Cannot install ${missing[*]}: not root and no passwordless sudo." >&2
        echo "Install them yourself: sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    if ! "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; then
        "${sudo[@]}" apt-get update -q >/dev/null
        "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
    fi
    exit 0
fi
if command -v brew >/dev/null 2>&1; then
    brew install "${missing[@]}"
    exit 0
fi
echo "Please install: ${missing[*]} (needed by the speech tests)" >&2
exit 1
