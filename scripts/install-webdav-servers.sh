#!/usr/bin/env bash
# Installs the real WebDAV servers used by the integration tests (Debian 12):
# Apache httpd + mod_dav_fs, nginx + dav-ext, rclone. Idempotent: does nothing when
# every binary/module is already present. Needs root (or sudo) and no stdin.
set -euo pipefail

NGINX_DAV_EXT=/usr/lib/nginx/modules/ngx_http_dav_ext_module.so

missing=()
for bin in apache2 htpasswd nginx rclone; do
  # apache2 lives in /usr/sbin, which is not always on a non-root PATH.
  command -v "$bin" >/dev/null 2>&1 || [ -x "/usr/sbin/$bin" ] || missing+=("$bin")
done
[ -f "$NGINX_DAV_EXT" ] || missing+=("nginx-dav-ext")

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-webdav-servers: already installed (apache2, htpasswd, nginx + dav-ext, rclone)"
  exit 0
fi
echo "install-webdav-servers: missing ${missing[*]}; installing with apt-get"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "need root or sudo" >&2; exit 1; }
  SUDO="sudo -n"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update </dev/null
$SUDO apt-get install -y --no-install-recommends \
  apache2 apache2-utils rclone nginx libnginx-mod-http-dav-ext </dev/null

echo "install-webdav-servers: done"
