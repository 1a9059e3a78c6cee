"""``python -m rapport_local [run|stop]``: the embedded suite from the command line.

Every flag has an environment variable (``RAPPORT_<FLAG>``) so scripts and CI can configure it without
flags; the flag wins when both are given.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shlex
import sys
from pathlib import Path

from rapport_local.launcher import BROKERS, SERVICES, LaunchConfig, Launcher, parse_services, stop_run


def _env(name: str, default: str) -> str:
    return os.environ.get(f"RAPPORT_{name}", default)


def _use_colour() -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    return bool(os.environ.get("FORCE_COLOR")) or sys.stdout.isatty()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m rapport_local",
        description="Rapport on one machine: private PostgreSQL, a broker (Tansu or Apache Kafka) and the services.",
    )
    commands = parser.add_subparsers(dest="command")

    run = commands.add_parser("run", help="start the suite (the default command)")
    run.add_argument("--data-dir", type=Path, default=Path(_env("DATA_DIR", ".rapport")), help="env RAPPORT_DATA_DIR")
    run.add_argument("--pg-port", type=int, default=int(_env("PG_PORT", "0")), help="0 = a free port")
    run.add_argument("--kafka-port", type=int, default=int(_env("KAFKA_PORT", "0")), help="0 = a free port")
    run.add_argument(
        "--base-port",
        type=int,
        default=int(_env("BASE_PORT", "8100")),
        help="services listen on base, base+1, ... in the order " + ", ".join(SERVICES),
    )
    run.add_argument("--host", default=_env("HOST", "127.0.0.1"))
    run.add_argument(
        "--services",
        default=_env("SERVICES", ",".join(SERVICES)),
        help="comma-separated subset; '' for PostgreSQL and the broker only",
    )
    run.add_argument(
        "--duration",
        type=float,
        default=float(_env("DURATION", "0")) or None,
        help="stop cleanly after this many seconds of being ready (default: run until Ctrl-C)",
    )
    run.add_argument("--log-level", default=_env("LOG_LEVEL", "INFO"), type=str.upper)
    run.add_argument("--ready-timeout", type=float, default=float(_env("READY_TIMEOUT", "90")))
    run.add_argument("--stop-timeout", type=float, default=float(_env("STOP_TIMEOUT", "10")))
    run.add_argument("--partitions", type=int, default=int(_env("PARTITIONS", "6")))
    run.add_argument(
        "--broker",
        choices=BROKERS,
        default=_env("BROKER", "tansu"),
        help="tansu: memory-only, no JDK needed (default); kafka: Apache Kafka from its Maven Central jars "
        "(needs Java 17+ and, once, Maven); env RAPPORT_BROKER",
    )
    run.add_argument(
        "--kafka-nodes",
        type=int,
        choices=(1, 3),
        default=int(_env("KAFKA_NODES", "1")),
        help="Apache Kafka nodes; 3 = replication 3, min.insync.replicas 2 (env RAPPORT_KAFKA_NODES)",
    )
    run.add_argument(
        "--kafka-security",
        action=argparse.BooleanOptionalAction,
        default=_env("KAFKA_SECURITY", "false").lower() in ("1", "true", "yes", "on"),
        help="Apache Kafka with SASL_SSL, one SCRAM principal per service and ACLs (env RAPPORT_KAFKA_SECURITY)",
    )
    run.add_argument(
        "--simulator",
        default=_env("SIMULATOR", "--realtime --seed 7"),
        help="arguments for python -m rapport_simulator (started once everything is ready); 'off' for none",
    )

    stop = commands.add_parser("stop", help="stop the suite of a data directory (or clean up after a dead one)")
    stop.add_argument("--data-dir", type=Path, default=Path(_env("DATA_DIR", ".rapport")))
    stop.add_argument("--timeout", type=float, default=30.0)
    return parser


def main(argv: list[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else argv
    if not args_list or (args_list[0].startswith("-") and args_list[0] not in ("-h", "--help")):
        args_list = ["run", *args_list]
    parser = build_parser()
    args = parser.parse_args(args_list)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.command == "stop":
        return stop_run(args.data_dir, timeout=args.timeout)
    try:
        config = LaunchConfig(
            data_dir=args.data_dir,
            pg_port=args.pg_port,
            kafka_port=args.kafka_port,
            base_port=args.base_port,
            host=args.host,
            services=parse_services(args.services),
            duration=args.duration,
            log_level=args.log_level,
            ready_timeout=args.ready_timeout,
            stop_timeout=args.stop_timeout,
            partitions=args.partitions,
            broker=args.broker,
            kafka_nodes=args.kafka_nodes,
            kafka_security=args.kafka_security,
            colour=_use_colour(),
            simulator_args=None if args.simulator.strip() in ("", "off") else tuple(shlex.split(args.simulator)),
        )
    except ValueError as exc:
        parser.error(str(exc))
    return asyncio.run(Launcher(config).run())


if __name__ == "__main__":
    sys.exit(main())
