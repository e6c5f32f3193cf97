#!/usr/bin/env bash
# Installs what the tests need from Debian 12: the real WebDAV servers (Apache httpd + mod_dav_fs,
# nginx + dav-ext, rclone, lighttpd + mod_webdav, sabre/dav under PHP's built-in server) and
# Chromium for the browser tests; openssl (the TLS proxy test's certificate) and systemd-analyze (the
# unit file check). Idempotent: does nothing when everything is already present.
# Needs root (or sudo) and no stdin.
set -euo pipefail

NGINX_DAV_EXT=/usr/lib/nginx/modules/ngx_http_dav_ext_module.so
LIGHTTPD_WEBDAV=/usr/lib/lighttpd/mod_webdav.so
SABRE_AUTOLOAD=/usr/share/php/Sabre/autoload.php

missing=()
for bin in apache2 htpasswd nginx rclone lighttpd php openssl systemd-analyze; do
  # apache2 lives in /usr/sbin, which is not always on a non-root PATH.
  command -v "$bin" >/dev/null 2>&1 || [ -x "/usr/sbin/$bin" ] || missing+=("$bin")
done
[ -f "$NGINX_DAV_EXT" ] || missing+=("nginx-dav-ext")
[ -f "$LIGHTTPD_WEBDAV" ] || missing+=("lighttpd-mod-webdav")
[ -f "$SABRE_AUTOLOAD" ] || missing+=("php-sabre-dav")
# sabre/dav needs PHP's DOM/XMLWriter, PDO SQLite and mbstring extensions.
if command -v php >/dev/null 2>&1; then
  for ext in dom xmlwriter pdo_sqlite mbstring; do
    php -m 2>/dev/null | grep -qix "$ext" || missing+=("php-$ext")
  done
fi
[ -x /usr/bin/chromium ] || missing+=("chromium")

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-system-deps: already installed (apache2, htpasswd, nginx + dav-ext, rclone, lighttpd + mod_webdav, php + sabre/dav, chromium, openssl, systemd-analyze)"
  exit 0
fi
echo "install-system-deps: missing ${missing[*]}; installing with apt-get"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "need root or sudo" >&2; exit 1; }
  SUDO="sudo -n"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update </dev/null
$SUDO apt-get install -y --no-install-recommends \
  apache2 apache2-utils rclone nginx libnginx-mod-http-dav-ext \
  lighttpd lighttpd-mod-webdav php-cli php-sabre-dav php-sqlite3 php-xml php-mbstring \
  chromium openssl systemd </dev/null

echo "install-system-deps: done"
