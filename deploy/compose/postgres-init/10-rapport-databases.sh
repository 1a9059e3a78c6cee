#!/bin/bash
# Runs once, when the PostgreSQL data volume is empty (docker-entrypoint-initdb.d).
# One database per service, each owned by its own login role: a service can read and write only its own
# tables (services never read each other's tables). Passwords come from the container's environment.
set -euo pipefail

create_service_database() {
    local database="$1" role="$2" password="$3"
    if [[ -z "$password" ]]; then
        echo "rapport init: the password of role $role is empty; set it in deploy/compose.env" >&2
        exit 1
    fi
    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
        -v db="$database" -v role="$role" -v pw="$password" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'pw';
CREATE DATABASE :"db" OWNER :"role";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
SQL
    echo "rapport init: database $database owned by $role"
}

create_service_database rapport_intake rapport_intake "${INTAKE_DB_PASSWORD:-}"
create_service_database rapport_session rapport_session "${SESSION_DB_PASSWORD:-}"
create_service_database rapport_consent rapport_consent "${CONSENT_DB_PASSWORD:-}"
create_service_database rapport_alliance_monitor rapport_alliance_monitor "${ALLIANCE_MONITOR_DB_PASSWORD:-}"
