#!/usr/bin/env bash
# Installs a Redis-compatible engine (valkey-server where the distribution has
# it, else redis-server >= 7) and redis-cli, when they are missing. Debian/Ubuntu.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }
if { have valkey-server || have redis-server; } && { have redis-cli || have valkey-cli; }; then
	exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
	have sudo || { echo "install-engine: need root or sudo to install the engine (apt-get install redis-server redis-tools)" >&2; exit 1; }
	sudo=sudo
fi
have apt-get || { echo "install-engine: no apt-get here; install valkey-server or redis-server (>= 7) and redis-cli yourself" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
pkgs="redis-tools"
if apt-cache show valkey-server >/dev/null 2>&1; then
	pkgs="valkey-server $pkgs"
else
	pkgs="redis-server $pkgs"
fi
echo "install-engine: installing $pkgs"
$sudo apt-get install -y -qq $pkgs >/dev/null
# The distribution may start a system-wide server; larder runs its own nodes.
if have systemctl && systemctl is-active --quiet redis-server 2>/dev/null; then
	$sudo systemctl disable --now redis-server >/dev/null 2>&1 || true
fi
