# Shared set-up for scripts/serve and scripts/test. Sourced, not run.
# ensure_venv: a .venv with coreswitch (editable, with dev extras) and every plugin under plugins/.
# Re-installs only when pyproject files changed since the last install.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/.venv"

pick_python() {
  for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "coreswitch needs Python 3.11 or newer" >&2
  return 1
}

ensure_venv() {
  local py stamp want
  if [ ! -x "$VENV/bin/python" ]; then
    py="$(pick_python)"
    echo "==> creating $VENV with $py"
    "$py" -m venv "$VENV"
  fi
  stamp="$VENV/.coreswitch-installed"
  local manifests=("$ROOT/pyproject.toml")
  shopt -s nullglob
  manifests+=("$ROOT"/plugins/*/pyproject.toml)
  shopt -u nullglob
  want="$(cat "${manifests[@]}" | sha256sum | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "==> installing coreswitch and its plugins into $VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    local args=(-e "$ROOT[dev]")
    for plugin in "$ROOT"/plugins/*/; do
      [ -f "$plugin/pyproject.toml" ] && args+=(-e "$plugin")
    done
    "$VENV/bin/python" -m pip install --quiet "${args[@]}"
    echo "$want" > "$stamp"
  fi
}

# ensure_apt PACKAGE...: install Debian packages that are missing (tests start the servers).
ensure_apt() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "==> installing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}
