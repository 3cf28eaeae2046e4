#!/usr/bin/env bash
# Mutation harness: plants each bug of testbench/mutants/NN-name.patch, one at a time,
# into a temporary copy of this checkout, rebuilds the release binary, runs the
# narrowest check of `make test` that should catch it, and reports "caught by X" or
# MISSED. A mutant that is missed, caught by something other than its declared check,
# no longer applies or no longer builds fails the run (exit 1).
#
#   scripts/mutants.sh                 every mutant
#   scripts/mutants.sh 01 05-ready     only the mutants whose file name contains a word
#
# Each patch starts with `# key: value` lines (git apply skips them):
#   class:     the verification hole it belongs to (issue 26, item 11)
#   caught-by: what is expected to catch it, in words (printed when it does)
#   check:     the command (`smtgen ...`, $SEED substituted) that must exit non-zero
#   expect:    an extended regex the check's output must match (one or more lines;
#              every one must match: it shows *which* check fired)
#   hole:      optional; a second patch (path relative to testbench/mutants) that
#              removes the new check; with it applied on top, the same check must pass
#              (the mutant is missed without it, as the issue says)
#   hole-check: optional; a command that must pass on the mutant (e.g. the sizes the
#              covering set had before the corners)
#
# Environment: MUTANTS_SEED (default 1) seeds every check; MUTANTS_TARGET_DIR (default
# target/mutants) is the cargo target directory shared by every mutant and run, so
# rebuilds are incremental; MUTANTS_LOCK=FILE runs each build and check under
# `flock FILE` (times exclude the wait); MUTANTS_HOLES=1 adds the hole demonstrations;
# MUTANTS_JOBS (default 2) bounds cargo's and the simulators' parallel jobs.
#
# The copy is of HEAD plus the uncommitted changes to tracked files (git stash
# create); untracked files are not in it. It is removed on exit, also on Ctrl-C.
set -u -o pipefail

ROOT=$(git rev-parse --show-toplevel) || exit 2
MUT_DIR="$ROOT/testbench/mutants"
SEED=${MUTANTS_SEED:-1}
JOBS=${MUTANTS_JOBS:-2}
HOLES=${MUTANTS_HOLES:-0}
LOCK=${MUTANTS_LOCK:-}
export CARGO_TARGET_DIR=${MUTANTS_TARGET_DIR:-$ROOT/target/mutants}
BIN="$CARGO_TARGET_DIR/release/smtgen"

TMP=""
CHILD=""
cleanup() {
    if [[ -n "$CHILD" ]]; then
        kill -TERM "$CHILD" 2>/dev/null
        wait "$CHILD" 2>/dev/null
    fi
    [[ -n "$TMP" && -d "$TMP" ]] && rm -rf "$TMP"
}
on_signal() {
    echo "mutants: interrupted, removing $TMP" >&2
    cleanup
    TMP=""
    exit 130
}
trap cleanup EXIT
trap on_signal INT TERM HUP

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", b - a }'; }

# Runs a command (in the background, so a signal reaches the trap at once), under
# the lock when one is set; STEP_SECS is its time without the wait for the lock.
STEP_SECS=0
heavy() {
    local fd t0 rc
    if [[ -n "$LOCK" ]]; then
        exec {fd}>>"$LOCK"
        # In the background, so a signal is not held up by the wait for the lock.
        flock "$fd" &
        CHILD=$!
        wait "$CHILD" || { CHILD=""; exec {fd}>&-; return 1; }
    fi
    t0=$(now)
    if [[ -n "$LOCK" ]]; then
        "$@" {fd}>&- & # the lock's descriptor stays with this shell only
    else
        "$@" &
    fi
    CHILD=$!
    wait "$CHILD"
    rc=$?
    CHILD=""
    STEP_SECS=$(secs "$t0" "$(now)")
    if [[ -n "$LOCK" ]]; then
        exec {fd}>&-
    fi
    return $rc
}

field() { # field FILE KEY: every value of `# KEY: value`, one a line
    sed -n "s/^# $2: *//p" "$1"
}

build() { # build LOG
    heavy cargo build --release -q -j "$JOBS" -p smtgen >"$1" 2>&1
}

run_check() { # run_check "smtgen args..." LOG
    local cmd=${1//\$SEED/$SEED}
    local -a words
    read -r -a words <<<"$cmd"
    if [[ "${words[0]}" != smtgen ]]; then
        echo "check must start with smtgen: $cmd" >"$2"
        return 2
    fi
    words[0]=$BIN
    heavy "${words[@]}" --jobs "$JOBS" >"$2" 2>&1
}

apply() { git -C "$SRC" apply --whitespace=nowarn "$@"; }

# Every file a patch names gets a fresh mtime after it is reverted, so cargo
# rebuilds it even where the revert restored an older mtime.
touch_patched() {
    sed -n 's#^+++ b/##p' "$1" | while read -r f; do touch "$SRC/$f"; done
}

shopt -s nullglob
PATCHES=()
for p in "$MUT_DIR"/[0-9]*.patch; do
    if [[ $# -eq 0 ]]; then
        PATCHES+=("$p")
    else
        for w in "$@"; do
            [[ "$(basename "$p")" == *"$w"* ]] && PATCHES+=("$p") && break
        done
    fi
done
if [[ ${#PATCHES[@]} -eq 0 ]]; then
    echo "mutants: no patch matches in $MUT_DIR" >&2
    exit 2
fi

T_START=$(now)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/smtgen-mutants.XXXXXX")
SRC="$TMP/src"
LOGS="$TMP/logs"
mkdir -p "$SRC" "$LOGS"
REV=$(git -C "$ROOT" stash create 2>/dev/null)
REV=${REV:-HEAD}
# -m: every file new to cargo, so nothing of an earlier run's mutant survives.
git -C "$ROOT" archive "$REV" | tar -x -m -C "$SRC" || exit 2
# git apply works on the copy as on a plain directory (no repository there); cargo
# and the checks run in it.
cd "$SRC" || exit 2
echo "mutants: $(git -C "$ROOT" rev-parse --short "$REV") copied to $SRC; seed $SEED; target $CARGO_TARGET_DIR"

# A first run starts from a copy of the checkout's own release build: the
# registry crates' artifacts carry over, only the workspace crates are rebuilt.
if [[ ! -d "$CARGO_TARGET_DIR/release" && -d "$ROOT/target/release/deps" ]]; then
    mkdir -p "$CARGO_TARGET_DIR"
    cp -a --reflink=auto "$ROOT/target/release" "$CARGO_TARGET_DIR/release"
fi
if ! build "$LOGS/clean-build.log"; then
    echo "mutants: the unmutated copy does not build:" >&2
    tail -20 "$LOGS/clean-build.log" >&2
    exit 1
fi
echo "mutants: unmutated build ${STEP_SECS}s"

FAILED=0
declare -a ROWS_OUT
for p in "${PATCHES[@]}"; do
    name=$(basename "$p" .patch)
    t0=$(now)
    class=$(field "$p" class | head -1)
    by=$(field "$p" caught-by | head -1)
    check=$(field "$p" check | head -1)
    verdict=""
    detail=""
    if [[ -z "$check" ]]; then
        verdict="BAD PATCH"
        detail="no '# check:' line"
    elif ! apply --check "$p" 2>"$LOGS/$name.apply.log"; then
        verdict="STALE"
        detail="does not apply: $(head -1 "$LOGS/$name.apply.log")"
    else
        apply "$p"
        if ! build "$LOGS/$name.build.log"; then
            verdict="BUILD FAILED"
            detail="$(grep -m1 -E '^error' "$LOGS/$name.build.log")"
        else
            bsecs=$STEP_SECS
            run_check "$check" "$LOGS/$name.check.log"
            rc=$?
            csecs=$STEP_SECS
            if [[ $rc -eq 0 ]]; then
                verdict="MISSED"
                detail="'$check' passed"
            else
                missing=""
                while IFS= read -r re; do
                    [[ -z "$re" ]] && continue
                    grep -qE -- "$re" "$LOGS/$name.check.log" || missing+="${missing:+; }/$re/"
                done < <(field "$p" expect)
                if [[ -n "$missing" ]]; then
                    verdict="CAUGHT ELSEWHERE"
                    detail="exit $rc, but the output lacks $missing"
                else
                    verdict="caught"
                    detail="by $by (build ${bsecs}s, check ${csecs}s)"
                fi
            fi
            # The hole: without the new check (or on the old sizes) the mutant passes.
            if [[ "$verdict" == caught && "$HOLES" != 0 ]]; then
                hole=$(field "$p" hole | head -1)
                if [[ -n "$hole" ]]; then
                    hp="$MUT_DIR/$hole"
                    if ! apply "$hp" 2>"$LOGS/$name.hole.apply.log"; then
                        verdict="HOLE NOT SHOWN"
                        detail+="; $hole does not apply"
                    else
                        if ! build "$LOGS/$name.hole.build.log"; then
                            verdict="HOLE NOT SHOWN"
                            detail+="; with $hole applied the copy does not build"
                        elif run_check "$check" "$LOGS/$name.hole.log"; then
                            detail+="; missed without it ($hole applied: passes, ${STEP_SECS}s)"
                        else
                            verdict="HOLE NOT SHOWN"
                            detail+="; with $hole applied the check still fails"
                        fi
                        apply -R "$hp"
                        touch_patched "$hp"
                    fi
                fi
                while IFS= read -r hc; do
                    [[ -z "$hc" ]] && continue
                    if run_check "$hc" "$LOGS/$name.holecheck.log"; then
                        detail+="; missed by '${hc//\$SEED/$SEED}' (passes, ${STEP_SECS}s)"
                    else
                        verdict="HOLE NOT SHOWN"
                        detail+="; '${hc//\$SEED/$SEED}' fails too"
                    fi
                done < <(field "$p" hole-check)
            fi
        fi
        apply -R "$p"
        touch_patched "$p"
    fi
    total=$(secs "$t0" "$(now)")
    if [[ "$verdict" == caught ]]; then
        printf '%-26s caught %s [%ss]\n' "$name" "$detail" "$total"
    else
        FAILED=$((FAILED + 1))
        printf '%-26s %s: %s [%ss]\n' "$name" "$verdict" "$detail" "$total"
        for log in "$LOGS/$name".*.log; do
            echo "  --- $(basename "$log") (last lines)"
            tail -15 "$log" | sed 's/^/  | /'
        done
    fi
    ROWS_OUT+=("$name|$class|$verdict|$total")
done

echo
echo "mutant | hole class | verdict | seconds"
for r in "${ROWS_OUT[@]}"; do
    echo "$r" | awk -F'|' '{ printf "%s | %s | %s | %s\n", $1, $2, $3, $4 }'
done
echo "mutants: ${#PATCHES[@]} run, $FAILED not caught as declared; $(secs "$T_START" "$(now)")s in all (seed $SEED)"
[[ $FAILED -eq 0 ]]
