#!/usr/bin/env bash
# Installs a built kunai binary (deno task compile -> dist/kunai) with its systemd unit and a
# minimal /etc/kunai/local.json. Run as root from the repository root.
set -euo pipefail
bin=${1:-dist/kunai}
[ -x "$bin" ] || { echo "no binary at $bin: run 'deno task compile' first" >&2; exit 1; }
install -m 0755 "$bin" /usr/local/bin/kunai
install -d -m 0755 /etc/kunai /var/lib/kunai /var/log/kunai
[ -f /etc/kunai/local.json ] || printf '{\n  "tags": ["linux"],\n  "seeds": [],\n  "bootstrap": true\n}\n' > /etc/kunai/local.json
install -m 0644 scripts/kunai.service /etc/systemd/system/kunai.service
systemctl daemon-reload
echo "installed; start with: systemctl enable --now kunai"
