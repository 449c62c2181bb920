#!/usr/bin/env bash
# Runs the kernels' tests, the golden cases, the benchmarks and a training run on a machine
# with a real GPU that has no Node.js, no npm registry and no Vulkan loader (the GPU machines
# lent to this project: x86-64, an NVIDIA driver with its Vulkan ICD, nothing reachable).
#
#   bash scripts/device-bundle.sh pack
#       Here, after `npm run build`: writes .dev/ (git-ignored), about 40 MB: this Node binary,
#       node_modules without what the run does not load (other platforms' Dawn, source maps,
#       tfjs's browser bundles, turbo, typescript), the built dist/ and *.wgsl.ts, the golden
#       cases, and Debian's libvulkan1 and libglvnd (NVIDIA's Vulkan ICD links against it).
#   bash scripts/device-bundle.sh run [STEP...]
#       There, from the repository root with .dev/ beside it; logs go under $OUT (default
#       ./out). Steps, by default all but test-core, in this order: probe, golden, test (the
#       kernels' suite), variants (bench/run-variants.js), bench (--json), train
#       (`crnn-cli train --workers 4`), test-models; test-core and bench-nopeer (the bench without
#       tfjs beside it) on request.
#
# Each step has its own time limit, cut to what is left of DEADLINE seconds (default 570: the
# device tool stops a command at 600); a failing step does not stop the next, and no adapter
# at the probe stops the run with the loader's view of NVIDIA's ICD.
set -uo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
shift || true

pack() {
  set -e
  [ -d packages/kernels/dist ] || { echo "device-bundle: run 'npm run build' first" >&2; exit 1; }
  local stage
  stage=$(mktemp -d)
  mkdir -p .dev
  xz -T0 -6 -c "$(command -v node)" > .dev/node.xz
  cp -a node_modules "$stage/"
  (
    cd "$stage/node_modules"
    rm -rf @turbo turbo typescript playwright-core core-js @types
    find webgpu/dist -mindepth 1 -maxdepth 1 ! -name linux-x64 -exec rm -rf {} +
    find . -name '*.map' -delete
    # Node loads tfjs through each package's "main", the single dist/*.node.js bundle.
    for d in @tensorflow/*/dist; do find "$d" -mindepth 1 -maxdepth 1 ! -name '*.node.js' -exec rm -rf {} +; done
  )
  tar -C "$stage" -cf - node_modules | xz -T0 -6 > .dev/nm.tar.xz
  rm -rf "$stage"
  tar -cJf .dev/build.tar.xz packages/*/dist $(find packages -name '*.wgsl.ts' -not -path '*/node_modules/*')
  rm -rf .dev/shared && mkdir -p .dev/shared && cp -a ../shared/golden .dev/shared/
  # The Vulkan loader, and libglvnd's libraries that NVIDIA's Vulkan ICD (libGLX_nvidia.so.0)
  # is linked against: without them the loader reports "Found no drivers".
  local debs='libvulkan1 libglvnd0 libgl1 libglx0 libegl1 libgles2 libopengl0'
  rm -f .dev/*.deb
  (cd .dev && apt-get -o APT::Sandbox::User=root download $debs >/dev/null)
  du -sh .dev
}

run() {
  local out=${OUT:-$PWD/out}
  mkdir -p "$out"
  local steps=("$@")
  [ ${#steps[@]} -gt 0 ] || steps=(probe golden test variants bench train test-models)
  local deadline=${DEADLINE:-570}
  local t0=$SECONDS
  {
    for f in .dev/*.deb; do dpkg -x "$f" /; done && ldconfig
    mkdir -p /tmp/nodebin && xz -dc .dev/node.xz > /tmp/nodebin/node && chmod +x /tmp/nodebin/node
    tar -xJf .dev/nm.tar.xz && tar -xJf .dev/build.tar.xz
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv
    ls /usr/local/nvidia/share/vulkan/icd.d /usr/share/vulkan/icd.d /etc/vulkan/icd.d 2>/dev/null
  } > "$out/setup.log" 2>&1
  export PATH=/tmp/nodebin:$PATH XDG_RUNTIME_DIR=/tmp/xdg GOLDEN_DIR=$PWD/.dev/shared/golden
  mkdir -p "$XDG_RUNTIME_DIR"
  local icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  [ -f "$icd" ] && export VK_DRIVER_FILES=$icd
  echo "setup: $((SECONDS - t0)) s" >> "$out/setup.log"
  local vitest=$PWD/node_modules/vitest/vitest.mjs
  for step in "${steps[@]}"; do
    local s0=$SECONDS left=$((deadline - SECONDS + t0 - 5))
    if [ "$left" -lt 20 ]; then echo "$step: skipped, ${left} s left" | tee -a "$out/setup.log"; continue; fi
    lim() { echo $(($1 < left ? $1 : left)); }
    # A package's Vitest suite: suite PACKAGE SECONDS LOG.
    suite() { (cd "packages/$1" && timeout "$(lim "$2")" node "$vitest" run) > "$out/$3" 2>&1; }
    case "$step" in
      probe)
        if ! timeout "$(lim 60)" node scripts/probe-adapter.mjs >> "$out/setup.log" 2>&1; then
          # No adapter: everything after would fail the same way. Say why the ICD did not load.
          ldd "$(find / -name 'libGLX_nvidia.so.0' -not -path '/proc/*' 2>/dev/null | head -1)" >> "$out/setup.log" 2>&1
          tail -n 20 "$out/setup.log"
          return 1
        fi ;;
      golden) timeout "$(lim 120)" node packages/cli/dist/bin.js golden > "$out/golden.log" 2>&1 ;;
      test) suite kernels 240 test.log ;;
      test-core) suite core 120 test-core.log ;;
      test-models) suite models 240 test-models.log ;;
      bench) timeout "$(lim 300)" node packages/kernels/dist/bench/run.js --json --max-seconds=$(($(lim 300) - 20)) \
        > "$out/bench.jsonl" 2> "$out/bench.log" ;;
      bench-nopeer) timeout "$(lim 200)" node packages/kernels/dist/bench/run.js --json --no-peer --max-seconds=$(($(lim 200) - 20)) \
        > "$out/bench-nopeer.jsonl" 2> "$out/bench-nopeer.log" ;;
      variants) timeout "$(lim 240)" node packages/kernels/dist/bench/run-variants.js > "$out/variants.txt" 2>&1 ;;
      train) timeout "$(lim 300)" node packages/cli/dist/bin.js train --workers 4 > "$out/train.log" 2>&1 ;;
      *) echo "device-bundle: unknown step $step" >> "$out/setup.log"; continue ;;
    esac
    echo "$step: exit $?, $((SECONDS - s0)) s" | tee -a "$out/setup.log"
  done
  tail -n 3 "$out"/*.log
}

case "$mode" in
  pack) pack ;;
  run) run "$@" ;;
  *) sed -n '2,19p' "$0"; exit 2 ;;
esac
