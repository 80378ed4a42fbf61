# Sourced by scripts/*: creates .venv (once) and installs the project with the extras in CX_EXTRAS
# (default: test, gcs and celery; scripts/test adds scrapi, which the demo does not need).
VENV="${CX_VENV:-$PWD/.venv}"
PY="${PYTHON:-python3}"
EXTRAS="${CX_EXTRAS:-test,gcs,celery}"
if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
fi
stamp="$VENV/.cx-installed-${EXTRAS//,/-}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    "$VENV/bin/python" -m pip install -q -e ".[$EXTRAS]"
    touch "$stamp"
fi
export PATH="$VENV/bin:$PATH"
