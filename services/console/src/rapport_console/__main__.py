"""``python -m rapport_console [serve]``: the console on HTTP_HOST:HTTP_PORT."""

from __future__ import annotations

import sys

import uvicorn
from pydantic import ValidationError

from rapport_console.app import build_app
from rapport_console.settings import ConsoleSettings


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if args not in ([], ["serve"]):
        print("usage: python -m rapport_console [serve]", file=sys.stderr)
        raise SystemExit(2)
    try:
        settings = ConsoleSettings()
    except ValidationError as exc:
        lines = ["invalid configuration for ConsoleSettings:"]
        for error in exc.errors(include_url=False):
            where = "_".join(str(p) for p in error["loc"]).upper()  # empty for a check across settings
            lines.append(f"  {where}: {error['msg']}" if where else f"  {error['msg']}")
        print("\n".join(lines), file=sys.stderr)
        raise SystemExit(2) from None
    app = build_app(settings)
    uvicorn.run(app, host=settings.http_host, port=settings.http_port, log_config=None, access_log=False)


if __name__ == "__main__":
    main()
