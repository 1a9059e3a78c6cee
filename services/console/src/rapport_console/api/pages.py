"""The pages: static HTML, vanilla JS and CSS from ``static/`` (no build step, no CDN).

Every page is public markup with no data in it: the data comes from ``/api/...`` with the signed-in
user's bearer token, so the services' authorisation decides what a page can show.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse

STATIC = Path(__file__).resolve().parent.parent / "static"
router = APIRouter(include_in_schema=False)

#: pages never cached, so a new deployment's markup and script are what the browser runs
NO_CACHE = {"Cache-Control": "no-cache"}


def page(name: str) -> FileResponse:
    return FileResponse(STATIC / name, media_type="text/html", headers=NO_CACHE)


@router.get("/")
async def root() -> RedirectResponse:
    return RedirectResponse("/signin", status_code=307)


@router.get("/signin")
async def signin_page() -> FileResponse:
    return page("signin.html")


@router.get("/clinician")
async def clinician_page() -> FileResponse:
    return page("clinician.html")


@router.get("/clinician/clients/{client_id}")
async def client_page(client_id: str) -> FileResponse:
    """The same page; its script reads the client id from the URL and asks the services (who may refuse)."""
    return page("clinician.html")


@router.get("/compliance")
async def compliance_page() -> FileResponse:
    return page("compliance.html")


@router.get("/operator")
async def operator_page() -> FileResponse:
    return page("operator.html")
