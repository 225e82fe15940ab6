# Shared by the check scripts: numbered steps with timings, and failures counted, not fatal.
# Source it after `cd` to the repository root; it sets `started` and `failures`.

started=$(date +%s.%N)
step_started=$started
failures=0

elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$(date +%s.%N)"; }
step() { step_started=$(date +%s.%N); echo "==> $*"; }
done_step() { echo "    ($(elapsed "$step_started") s)"; }
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
sha256() { sha256sum "$@" | cut -d' ' -f1; }
