#!/usr/bin/env bash
# Installs the comparison peer of `npm run bench -- radius`: Debian's FreeRADIUS 3.2 and
# its PostgreSQL driver. Opt-in (only the bench calls it); idempotent. The bench runs its
# own private instance, so the distribution's service is stopped and disabled where
# systemd manages it (it would otherwise hold udp/1812 and udp/1813).
set -euo pipefail

if [ -x /usr/sbin/freeradius ] && [ -f /etc/freeradius/3.0/mods-config/sql/main/postgresql/schema.sql ]; then
  exit 0
fi
pkgs=(freeradius freeradius-postgresql)
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=sudo
  else
    echo "[freeradius] cannot install ${pkgs[*]}: not root and no passwordless sudo." >&2
    echo "[freeradius] install them yourself: apt-get install -y ${pkgs[*]}" >&2
    exit 3
  fi
else
  SUDO=
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "[freeradius] no apt-get here; install ${pkgs[*]} (FreeRADIUS 3.2) with your package manager." >&2
  exit 3
fi
echo "[freeradius] installing: ${pkgs[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${pkgs[@]}" >/dev/null
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  $SUDO systemctl disable --now freeradius >/dev/null 2>&1 || true
fi
echo "[freeradius] done: $(/usr/sbin/freeradius -v | head -1)"
