#!/usr/bin/env bash
# Installs the Debian packages the gateway and its tests need, if missing (CI runs as root).
#  - fonts-wqy-zenhei: the CJK font embedded (subset) in certificates
#  - poppler-utils: pdftotext, used by tests to check that the Chinese text extracts
#  - openssl: the interop tests run OpenSSL 3's command line
#  - systemd: systemd-analyze verifies the unit samples in deploy/systemd (tests/deploy); no service is started
#  - chromium: the back office's browser tests (tests/web) drive it through playwright's executable_path
set -euo pipefail
need=()
[ -f /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] || need+=(fonts-wqy-zenhei)
command -v pdftotext >/dev/null 2>&1 || need+=(poppler-utils)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing system packages: ${need[*]}"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "missing system packages: ${need[*]} — run: sudo apt-get install ${need[*]}" >&2
    exit 1
  fi
fi
