#!/usr/bin/env bash
# Installs the Debian packages the test suite needs when they are missing: Chromium, a CJK font
# (or every Chinese character in a screenshot is an empty box), the PostgreSQL 15 server binaries (pg_dump,
# pg_restore and psql come with them), nginx (tests/test_nginx.py runs deploy/nginx/shiming.conf),
# systemd-analyze (tests/test_deploy.py verifies deploy/systemd) and faketime (the E2E suite runs a command
# as if days had passed).
set -euo pipefail

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v faketime >/dev/null 2>&1 || missing+=(faketime)  # E2E: the due deletions, 16 days on
dpkg -s fonts-wqy-microhei >/dev/null 2>&1 || dpkg -s fonts-noto-cjk >/dev/null 2>&1 || missing+=(fonts-wqy-microhei)
if ! { [ -x "$(pg_config --bindir 2>/dev/null)/initdb" ] || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; }; then
  missing+=(postgresql-15)
fi
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing Debian packages: ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
