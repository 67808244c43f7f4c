# Sourced by scripts/start and scripts/test: makes a fresh machine able to build.
# Node.js 20 is installed on the machine; pnpm comes from the npm registry at the
# version pinned in package.json's packageManager field.

kana_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

ensure_pnpm() {
  local want
  want="$(node -p "require('$kana_root/package.json').packageManager.split('@')[1]")"
  if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version 2>/dev/null)" != "$want" ]; then
    echo "bootstrap: installing pnpm $want from the npm registry" >&2
    npm install --global --silent "pnpm@$want" >&2
  fi
}

install_dependencies() {
  (cd "$kana_root" && pnpm install --frozen-lockfile --reporter=silent)
}

build_all() {
  # The services and packages (project references, emitting dist/), then the tests, benches
  # and harnesses, which the build does not compile but jest runs untyped (swc strips types).
  (cd "$kana_root" && pnpm exec tsc -b && pnpm exec tsc -p tsconfig.tests.json)
}
