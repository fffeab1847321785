#!/usr/bin/env bash
# Installs the Debian packages the test suite needs: Chromium (Playwright drives it; its own
# browser download is not used) and freeradius-utils (radclient, the interop peer).
# Idempotent: does nothing when both are present.
set -euo pipefail

need=()
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || need+=(chromium)
command -v radclient >/dev/null 2>&1 || need+=(freeradius-utils)
command -v logger >/dev/null 2>&1 || need+=(bsdutils)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi

echo "[system-deps] installing: ${need[*]}"
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=sudo
  else
    echo "[system-deps] cannot install ${need[*]}: not root and no passwordless sudo." >&2
    echo "[system-deps] install them yourself: apt-get install -y ${need[*]}" >&2
    exit 3
  fi
else
  SUDO=
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "[system-deps] no apt-get here; install ${need[*]} with your package manager." >&2
  exit 3
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${need[@]}" >/dev/null
echo "[system-deps] done"
