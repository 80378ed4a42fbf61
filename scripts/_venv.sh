# Sourced by scripts/*: creates .venv (once) and installs the project with its test, gcs and celery extras into it.
VENV="${CX_VENV:-$PWD/.venv}"
PY="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
fi
stamp="$VENV/.cx-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    "$VENV/bin/python" -m pip install -q -e ".[test,gcs,celery]"
    touch "$stamp"
fi
export PATH="$VENV/bin:$PATH"
