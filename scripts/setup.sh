#!/usr/bin/env bash
# One idempotent set-up step shared by `npm start` and `npm test`.
#   1. Node >= 20.
#   2. npm dependencies, installed only when node_modules is missing or older than the lock.
#   3. A WebGPU adapter for Dawn. When none is found, install Mesa's lavapipe (a CPU Vulkan
#      driver) from bookworm-backports: Debian bookworm's own Mesa 22.x is too old for Dawn.
#   4. With --browser (used by `npm test`): Debian's Chromium for the browser tests.
# Quiet when everything is already there; every action it takes is printed as "setup: ...".
# Hooks for tests (never needed by users):
#   SETUP_PROBE_CMD  command that must exit 0 when an adapter exists (default: the Dawn probe)
#   SETUP_APT_GET    apt-get binary (default: apt-get)
#   SETUP_AS_USER    pretend not to be root when set to 1
#   SETUP_SKIP_NPM   skip step 2 when set to 1
set -euo pipefail
cd "$(dirname "$0")/.."
want_browser=0
for arg in "$@"; do
  case "$arg" in
    --browser) want_browser=1 ;;
    *) echo "setup: unknown option $arg" >&2; exit 2 ;;
  esac
done

say() { echo "setup: $*"; }
die() { echo "setup: error: $*" >&2; exit 1; }

# --- 1. Node -------------------------------------------------------------------------------
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
[ "$node_major" -ge 20 ] || die "Node.js 20 or newer is required (found: $(node --version 2>/dev/null || echo none))."

# --- 2. npm dependencies ---------------------------------------------------------------------
if [ "${SETUP_SKIP_NPM:-0}" != 1 ]; then
  stamp=node_modules/.package-lock.json
  stale=0
  [ -f "$stamp" ] || stale=1
  for f in package-lock.json package.json packages/*/package.json test/package.json; do
    [ -f "$f" ] && [ "$f" -nt "$stamp" ] && stale=1
  done
  if [ "$stale" = 1 ]; then
    say "installing npm dependencies"
    # `npm install`, not `npm ci`: npm 11 leaves other platforms' optional packages (rollup's,
    # turbo's) out of the lock it writes, and `npm ci` then refuses that lock. install honours
    # the lock's versions all the same.
    npm install --no-audit --no-fund --loglevel=error
    touch "$stamp"
  fi
fi

# --- 3. WebGPU adapter -----------------------------------------------------------------------
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/xdg-runtime-$(id -u)}"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR" 2>/dev/null || true
probe() {
  if [ -n "${SETUP_PROBE_CMD:-}" ]; then bash -c "$SETUP_PROBE_CMD" >/dev/null 2>&1
  else node scripts/probe-adapter.mjs >/dev/null 2>&1; fi
}
install_browser() {
  [ "$want_browser" = 1 ] || return 0
  local chromium=${CHROMIUM_PATH:-/usr/bin/chromium}
  [ -x "$chromium" ] && return 0
  local apt=${SETUP_APT_GET:-apt-get}
  if ! command -v "$apt" >/dev/null 2>&1 || [ "$(id -u)" != 0 ] || [ "${SETUP_AS_USER:-0}" = 1 ]; then
    die "the browser tests need Chromium at $chromium. Install Debian's 'chromium' package (apt-get install chromium) or set CHROMIUM_PATH."
  fi
  say "installing Chromium for the browser tests"
  DEBIAN_FRONTEND=noninteractive "$apt" install -y -qq --no-install-recommends chromium >/dev/null 2>&1 \
    || { "$apt" update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive "$apt" install -y -qq --no-install-recommends chromium >/dev/null; } \
    || die "installing chromium failed. Install it by hand (apt-get install chromium) or set CHROMIUM_PATH."
}

if probe; then
  install_browser
  exit 0
fi

manual="Install a WebGPU-capable driver by hand. On Debian bookworm, as root:
  echo 'deb http://deb.debian.org/debian bookworm-backports main' > /etc/apt/sources.list.d/bookworm-backports.list
  apt-get update && apt-get install -y -t bookworm-backports mesa-vulkan-drivers libvulkan1
(Mesa 24 or newer; bookworm's own Mesa 22.x is too old for Dawn). On other systems install
libvulkan1 and Mesa's lavapipe (mesa-vulkan-drivers) version 24+, or a GPU's Vulkan driver."

apt=${SETUP_APT_GET:-apt-get}
if ! command -v "$apt" >/dev/null 2>&1; then
  die "no WebGPU adapter was found and apt-get is not available to install one.
$manual"
fi
if [ "$(id -u)" != 0 ] || [ "${SETUP_AS_USER:-0}" = 1 ]; then
  die "no WebGPU adapter was found, and installing the CPU Vulkan driver needs root.
$manual"
fi
codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
say "no WebGPU adapter found: installing Mesa's lavapipe (CPU Vulkan driver) from ${codename:-bookworm}-backports"
src=/etc/apt/sources.list.d/${codename:-bookworm}-backports.list
if ! grep -rqs "${codename:-bookworm}-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo "deb http://deb.debian.org/debian ${codename:-bookworm}-backports main" > "$src"
fi
export DEBIAN_FRONTEND=noninteractive
"$apt" update -qq >/dev/null || die "apt-get update failed.
$manual"
"$apt" install -y -qq --no-install-recommends -t "${codename:-bookworm}-backports" mesa-vulkan-drivers libvulkan1 >/dev/null \
  || die "installing mesa-vulkan-drivers from backports failed.
$manual"
probe || die "the CPU Vulkan driver was installed but Dawn still finds no adapter.
Run 'node scripts/probe-adapter.mjs' to see Dawn's message.
$manual"
say "WebGPU adapter ready: $(node scripts/probe-adapter.mjs 2>/dev/null)"
install_browser
