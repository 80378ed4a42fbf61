# Sourced by scripts/test: makes sure Redis and PostgreSQL are installed, for the CeleryExecutor tier
# (tests/celery). Only the programs: the tier's fixtures start them on loopback ports in temp dirs and stop
# them by process id (airflow_provider_cx/demo/services.py); they are never run as system services.
# On a fresh Debian/Ubuntu machine (root, apt-get) this runs `apt-get update` once and installs what is
# missing; elsewhere it says what to install.
_cx_missing=()
command -v redis-server >/dev/null 2>&1 || _cx_missing+=(redis-server)
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 && ! command -v postgres >/dev/null 2>&1; then
    _cx_missing+=(postgresql)
fi
if [ "${#_cx_missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing ${_cx_missing[*]} for the Celery tier (apt-get)" >&2
        # Debian's packages start their system services on install; the tier starts its own, so forbid that
        # for the duration of the install (the standard policy-rc.d switch), unless a policy already exists.
        _cx_policy=""
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            _cx_policy=/usr/sbin/policy-rc.d
            printf '#!/bin/sh\nexit 101\n' >"$_cx_policy" && chmod +x "$_cx_policy"
        fi
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${_cx_missing[@]}" >/dev/null
        [ -n "$_cx_policy" ] && rm -f "$_cx_policy"
        unset _cx_policy
    else
        echo "error: the Celery tier needs ${_cx_missing[*]}: install them (e.g. apt-get install -y redis-server" \
            "postgresql), or deselect the tier with -m 'not celery'" >&2
        return 1 2>/dev/null || exit 1
    fi
fi
unset _cx_missing
