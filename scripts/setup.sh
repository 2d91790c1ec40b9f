#!/usr/bin/env bash
# Sets up a fresh machine to run and test Tendon: system packages (nats-server, bubblewrap,
# ripgrep, chromium), pnpm, the workspace's dependencies, and a build. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

PNPM_VERSION=12.4.2
# chromium: the headless browser of the web console's end-to-end tests (driven by playwright-core).
# docker-compose: validates infra/compose.yaml offline in the tests (`config -q`; no engine needed).
APT_PACKAGES=(nats-server bubblewrap ripgrep chromium docker-compose bsdutils)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "setup: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  elif command -v apt-get >/dev/null 2>&1 && command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: please install ${missing[*]} with your package manager (nats-server is also at https://github.com/nats-io/nats-server/releases)" >&2
  fi
fi

if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version)" != "$PNPM_VERSION" ]; then
  echo "setup: installing pnpm $PNPM_VERSION"
  npm install -g --silent "pnpm@$PNPM_VERSION"
fi

pnpm install --frozen-lockfile
pnpm build
echo "setup: done. Run 'pnpm dev' to start Tendon, 'pnpm test' to test it."
