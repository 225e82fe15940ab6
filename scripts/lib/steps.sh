# Shared by the check scripts: numbered steps with timings, failures counted (not fatal), and
# the tools' virtual environments.
# Source it after `cd` to the repository root; it sets `started` and `failures`.

started=$(date +%s.%N)
step_started=$started
failures=0

elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$(date +%s.%N)"; }
step() { step_started=$(date +%s.%N); echo "==> $*"; }
done_step() { echo "    ($(elapsed "$step_started") s)"; }
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
sha256() { sha256sum "$@" | cut -d' ' -f1; }

# ensure_uv: install uv with pip when the machine has none.
ensure_uv() {
  if ! command -v uv >/dev/null 2>&1; then
    echo "    installing uv"
    python3 -m pip install --quiet 'uv>=0.9,<1'
  fi
}

# ensure_venv VENV REQUIREMENTS LABEL: a virtual environment with the hash-pinned REQUIREMENTS,
# rebuilt only when that file changes (its hash is kept in VENV/.stamp).
ensure_venv() {
  local venv=$1 requirements=$2 label=$3 stamp
  stamp=$(sha256 "$requirements")
  if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.stamp" 2>/dev/null)" = "$stamp" ]; then
    echo "    $label: up to date"
    return
  fi
  rm -rf "$venv"
  uv venv --quiet --python python3 "$venv"
  uv pip install --quiet --python "$venv/bin/python" --require-hashes -r "$requirements"
  echo "$stamp" > "$venv/.stamp"
  echo "    $label: installed"
}
