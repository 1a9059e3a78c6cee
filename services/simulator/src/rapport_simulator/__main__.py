"""``python -m rapport_simulator --run-json .rapport/run.json [--seed 7] [--speed 1000 | --realtime] ...``

Reads the service URLs and the JWT secret file from the launcher's ``run.json``, builds the seeded
population and drives it until ``--duration`` seconds (or ``--weeks`` simulated weeks) are over, then
writes the ground truth (``--truth-out``, default ``<run.json dir>/simulator-truth.json``).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from rapport_simulator.api import Api, RunInfo
from rapport_simulator.driver import Options, Simulation
from rapport_simulator.population import build_population

log = logging.getLogger("rapport_simulator")


def _caseload(value: str) -> tuple[int, int]:
    low, _, high = value.partition("..")
    try:
        pair = (int(low), int(high or low))
    except ValueError:
        raise argparse.ArgumentTypeError("caseload: N or LOW..HIGH, e.g. 15..30") from None
    if pair[0] < 1 or pair[1] < pair[0]:
        raise argparse.ArgumentTypeError("caseload: need 1 <= LOW <= HIGH")
    return pair


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m rapport_simulator", description=__doc__.split("\n\n")[1])
    p.add_argument("--run-json", type=Path, required=True, help="the launcher's run.json")
    p.add_argument("--seed", type=int, default=7)
    speed = p.add_mutually_exclusive_group()
    speed.add_argument("--speed", type=float, default=1000.0, help="simulated seconds per real second (default 1000)")
    speed.add_argument("--realtime", action="store_true", help="speed 1: the live demo")
    p.add_argument(
        "--duration", type=float, default=None, help="real seconds to run (default: until --weeks or Ctrl-C)"
    )
    p.add_argument("--weeks", type=int, default=None, help="stop after this many simulated weeks")
    p.add_argument("--clinicians", type=int, default=6)
    p.add_argument("--clients-per-clinician", type=_caseload, default=(15, 30), metavar="LOW..HIGH")
    p.add_argument("--truth-out", type=Path, default=None)
    p.add_argument("--client-prefix", default="client", help="client ids are <prefix>-0001 ... (default client)")
    p.add_argument(
        "--overrun-clock",
        choices=("real", "compressed"),
        default="real",
        help="overruns last real minutes (visible to the overrun rules) or compressed ones",
    )
    p.add_argument("--log-level", default="INFO")
    return p


async def run(args: argparse.Namespace) -> int:
    info = RunInfo.load(args.run_json)
    population = build_population(
        seed=args.seed,
        clinicians=args.clinicians,
        caseload=args.clients_per_clinician,
        client_prefix=args.client_prefix,
    )
    truth_out = args.truth_out or args.run_json.parent / "simulator-truth.json"
    options = Options(
        seed=args.seed,
        speed=1.0 if args.realtime else args.speed,
        duration_s=args.duration,
        clinicians=args.clinicians,
        caseload=args.clients_per_clinician,
        truth_out=truth_out,
        overrun_clock=args.overrun_clock,
        weeks=args.weeks,
        client_prefix=args.client_prefix,
    )
    api = Api(info)
    sim = Simulation(api, population, options)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, sim.clock.stopped.set)
    try:
        truth = await sim.run()
    finally:
        await api.close()
    truth.write(truth_out)
    log.info("ground truth written to %s (%d expectations)", truth_out, len(truth.expectations))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s rapport-simulator %(levelname)s %(message)s",
        stream=sys.stdout,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
