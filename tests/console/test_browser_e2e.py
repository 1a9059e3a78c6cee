"""End to end in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright for Python) against
the real services: intake, session, consent and alliance-monitor as subprocesses (``python -m rapport_<svc>``)
on real PostgreSQL and the real broker, and the console in front of them. Data are set up the way the
simulator does it: through the services' public APIs with signed tokens.

Screenshots of every page land in ``tests/console/artifacts/`` (git-ignored).
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright

from rapport_common.auth import issue_token

CHROMIUM = "/usr/bin/chromium"
SECRET = "console-e2e-secret-of-32-bytes!!!"
ARTIFACTS = Path(__file__).with_name("artifacts")
SERVICES = {
    "intake": "INTAKE_SERVICE_URL",
    "session": "SESSION_SERVICE_URL",
    "consent": "CONSENT_SERVICE_URL",
    "alliance-monitor": "ALLIANCE_MONITOR_URL",
}

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} missing: apt-get install -y chromium")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


def text_of(path: Path | str) -> str:
    return Path(path).read_text(encoding="utf-8")


def token(subject: str, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(SECRET, subject=subject, role=role)}"}


SERVICE = token("e2e-setup", "service")

# wait_for_function predicates are written as functions: Playwright polls an expression string with eval()
# inside the page, which the console's CSP (no 'unsafe-eval') rightly blocks; a function is not eval'd.

#: what Chromium reported as blocked by the console's Content-Security-Policy during the current test
CSP_VIOLATIONS: list[str] = []
#: Chromium logs its own "Refused to ..." line; the event also covers what it reports only to the page
REPORT_VIOLATIONS = (
    "document.addEventListener('securitypolicyviolation', e => "
    "console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`));"
)


@pytest.fixture(autouse=True)
def no_csp_violations() -> Any:
    """Every page works under the console's CSP: a test fails if the browser blocked anything."""
    CSP_VIOLATIONS.clear()
    yield
    assert CSP_VIOLATIONS == []


@dataclass
class Suite:
    urls: dict[str, str]
    console: str
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: Path = ARTIFACTS / "logs"

    def http(self, name: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.urls[name] if name != "console" else self.console, timeout=10)


async def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, within: float = 90) -> None:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=2) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{url} exited {process.returncode}:\n{tail(log)}")
            try:
                # /healthz: uvicorn answers only once the lifespan (migrations, pool, producer, consumers) started
                if (await http.get(f"{url}/healthz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {within}s:\n{tail(log)}")


@pytest.fixture(scope="module")
async def suite(infra: Any, kafka_bootstrap_servers: str, kafka_idempotence: bool) -> AsyncIterator[Suite]:
    """The four services and the console as subprocesses, each service on its own fresh database."""
    from rapport_local.postgres import ensure_database

    ARTIFACTS.mkdir(exist_ok=True)
    logs = ARTIFACTS / "logs"
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir()
    ports = {name: free_port() for name in (*SERVICES, "console")}
    urls = {name: f"http://127.0.0.1:{ports[name]}" for name in SERVICES}
    run = uuid.uuid4().hex[:8]
    base_env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers,
        "KAFKA_ENABLE_IDEMPOTENCE": str(kafka_idempotence).lower(),
        "KAFKA_SESSION_TIMEOUT_MS": "6000",
        "JWT_SECRET": SECRET,
        "HTTP_HOST": "127.0.0.1",
        "CONSUMER_GROUP": f"alliance-monitor-{run}",  # never shares a group with another run on a shared broker
        "CONSENT_CACHE_TTL_S": "0",
        **{env: urls[name] for name, env in SERVICES.items()},
    }
    suite = Suite(urls=urls, console=f"http://127.0.0.1:{ports['console']}")
    try:
        for name in SERVICES:
            database = f"console_e2e_{run}_{name.replace('-', '_')}"
            await ensure_database(infra.postgres_admin_url, database)
            env = {**base_env, "DATABASE_URL": str(infra.database_url(database)), "HTTP_PORT": str(ports[name])}
            module = "rapport_" + name.replace("-", "_")
            log = logs / f"{name}.log"
            suite.processes.append(
                subprocess.Popen(  # noqa: ASYNC220 (started once per module)
                    [sys.executable, "-m", module],
                    env=env,
                    stdout=log.open("wb"),
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        env = {**base_env, "HTTP_PORT": str(ports["console"]), "CONSOLE_DEMO_LOGIN": "true"}
        suite.processes.append(
            subprocess.Popen(  # noqa: ASYNC220
                [sys.executable, "-m", "rapport_console"],
                env=env,
                stdout=(logs / "console.log").open("wb"),
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
        names = [*SERVICES, "console"]
        await asyncio.gather(
            *(
                _wait_ready(urls.get(name, suite.console), proc, logs / f"{name}.log")
                for name, proc in zip(names, suite.processes, strict=True)
            )
        )
        await register_clinicians(suite)
        yield suite
    finally:
        for proc in suite.processes:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in suite.processes:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


async def register_clinicians(suite: Suite) -> None:
    """The demo clinicians, as the simulator registers them: clinician-01..06, supervised by supervisor-01."""
    hours = [{"weekday": day, "start": "08:00", "end": "18:00"} for day in range(5)]
    async with suite.http("intake") as intake:
        for n in range(1, 7):
            body = {
                "clinician_id": f"clinician-0{n}",
                "display_name": f"Clinician {n}",
                "timezone": "Europe/London",
                "working_hours": hours,
                "supervisor_id": "supervisor-01",
            }
            await expect(intake.post("/clinicians", json=body, headers=SERVICE), 201)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        chromium = await p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        try:
            yield chromium
        finally:
            await chromium.close()


async def page_for(browser: Browser, suite: Suite) -> Page:
    context = await browser.new_context(
        base_url=suite.console, viewport={"width": 1366, "height": 800}, accept_downloads=True
    )
    await context.add_init_script(REPORT_VIOLATIONS)
    page = await context.new_page()
    page.on(
        "console",
        lambda message: (
            CSP_VIOLATIONS.append(message.text)
            if "Content Security Policy" in message.text or message.text.startswith("CSP violation")
            else None
        ),
    )
    page.set_default_timeout(15_000)
    return page


async def sign_in(page: Page, user_id: str) -> None:
    await page.goto("/signin")
    await page.check(f"#user-{user_id}")
    await page.click("#demo-submit")
    await page.wait_for_function(
        "(id) => document.getElementById('who') && document.getElementById('who').textContent.includes(id)",
        arg=user_id,
    )


async def expect(call: Any, status: int) -> Any:
    response = await call
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url}: {response.status_code} {response.text}"
    )
    return response.json() if response.content and "json" in response.headers.get("content-type", "") else response


async def eventually(check: Any, *, within: float = 30.0, every: float = 0.2) -> Any:
    deadline = time.monotonic() + within
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(every)
    raise AssertionError(f"not reached within {within}s (last: {last!r})")


@dataclass
class Pair:
    client_id: str
    clinician_id: str
    session_id: str


async def client_in_session(suite: Suite, clinician_id: str) -> Pair:
    """A registered client of ``clinician_id`` with intake, consents, a running session and its ORS recorded
    by the monitor (so the monitor has seen the assignment and the consents before the test acts)."""
    client_id = f"e2e-{uuid.uuid4().hex[:10]}"
    client = token(client_id, "client")
    clinician = token(clinician_id, "clinician")
    async with suite.http("intake") as intake, suite.http("consent") as consent, suite.http("session") as session:
        await expect(
            intake.post(
                "/clients",
                json={"client_id": client_id, "age_band": "adult", "timezone": "Europe/London"},
                headers=SERVICE,
            ),
            201,
        )
        await expect(
            intake.post(f"/clients/{client_id}/assignments", json={"clinician_id": clinician_id}, headers=SERVICE), 201
        )
        ors = {"individual": 5.0, "interpersonal": 5.5, "social": 5.0, "overall": 4.5}
        await expect(
            intake.post(
                f"/clients/{client_id}/intake",
                json={"presenting_concerns": ["sleep"], "goals": ["rest"], "baseline_ors": ors},
                headers=client,
            ),
            201,
        )
        for scope in ("telehealth-treatment", "measurement-feedback", "alliance-analytics"):

            async def granted(scope: str = scope) -> bool:  # consent learns the registration from intake.events
                answer = await consent.post("/consents", json={"client_id": client_id, "scope": scope}, headers=client)
                assert answer.status_code in (201, 409), answer.text  # 409 + Retry-After: not registered there yet
                return answer.status_code == 201

            await eventually(granted)
        start = datetime.now(UTC) + timedelta(minutes=2)
        body = {
            "client_id": client_id,
            "scheduled_start": start.isoformat(),
            "scheduled_end": (start + timedelta(minutes=50)).isoformat(),
        }

        async def scheduled() -> Any:  # the session service learns the assignment from intake.events
            answer = await session.post("/sessions", json=body, headers=clinician)
            return answer.json() if answer.status_code == 201 else None

        session_id = (await eventually(scheduled))["session_id"]
        await expect(session.post(f"/sessions/{session_id}/start", headers=clinician), 200)
        await expect(session.post(f"/sessions/{session_id}/join", headers=client), 200)
        await expect(
            session.post(
                f"/sessions/{session_id}/feedback/ors",
                json={"items": {"individual": 6.0, "interpersonal": 6.0, "social": 6.5, "overall": 6.0}},
                headers=client,
            ),
            201,
        )

    async with suite.http("alliance-monitor") as monitor:

        async def ors_seen() -> bool:
            answer = await monitor.get(f"/clients/{client_id}/trend", headers=clinician)
            return answer.status_code == 200 and len(answer.json()["ors"]["points"]) == 1

        await eventually(ors_seen)
    return Pair(client_id, clinician_id, session_id)


async def submit_pulse(suite: Suite, pair: Pair, score: int) -> float:
    async with suite.http("session") as session:
        started = time.monotonic()
        await expect(
            session.post(
                f"/sessions/{pair.session_id}/feedback/pulse",
                json={"question": "felt-heard", "score": score},
                headers=token(pair.client_id, "client"),
            ),
            201,
        )
        return started


async def test_clinician_sees_live_alert_within_a_second_and_acknowledges_it(suite: Suite, browser: Browser) -> None:
    pair = await client_in_session(suite, "clinician-01")
    page = await page_for(browser, suite)
    await sign_in(page, "clinician-01")
    assert page.url.endswith("/clinician")
    await page.wait_for_selector(f"#caseload-table tr[data-client-id='{pair.client_id}']")
    await page.wait_for_selector("body[data-stream='live']")

    started = await submit_pulse(suite, pair, 1)
    card = page.locator(f"li.alert[data-rule='pulse-low']:has(a:text-is('{pair.client_id}'))")
    await card.wait_for(state="visible", timeout=5000)
    elapsed = time.monotonic() - started
    print(f"\nlive alert visible {elapsed * 1000:.0f} ms after the pulse POST started")
    (ARTIFACTS / "live-alert-latency.txt").write_text(f"{elapsed * 1000:.0f} ms\n")
    assert elapsed < 1.0, f"the alert took {elapsed:.2f}s to appear"

    text = await card.inner_text()
    assert "The client rated feeling heard 1/5" in text and "Worth checking in?" in text
    assert "just now" in text
    assert await card.get_attribute("data-severity") == "medium"
    await page.screenshot(path=str(ARTIFACTS / "clinician-live-alert.png"), full_page=True)

    await card.get_by_role("button", name="Acknowledge").click()
    await page.wait_for_selector(f"li.alert[data-status='acknowledged']:has(a:text-is('{pair.client_id}'))")
    alert_id = await card.get_attribute("data-alert-id")
    async with suite.http("alliance-monitor") as monitor:
        stored = await expect(monitor.get(f"/alerts/{alert_id}", headers=token("clinician-01", "clinician")), 200)
    assert stored["status"] == "acknowledged" and stored["acknowledged_by"] == "clinician-01"

    await card.get_by_label("Note (needed to resolve)").fill("Checked in with the client; we slowed down.")
    await card.get_by_role("button", name="Resolve").click()
    await page.wait_for_selector(f"li.alert[data-alert-id='{alert_id}']", state="detached")
    async with suite.http("alliance-monitor") as monitor:
        stored = await expect(monitor.get(f"/alerts/{alert_id}", headers=token("clinician-01", "clinician")), 200)
    assert stored["status"] == "resolved" and stored["resolution"] == "Checked in with the client; we slowed down."

    # the client's trend: SRS and ORS with the cutoff lines and the reliable-change band
    async with suite.http("session") as session:
        srs = {"relationship": 9.5, "goals_topics": 9.5, "approach_method": 9.5, "overall": 9.5}
        await expect(
            session.post(
                f"/sessions/{pair.session_id}/feedback/srs",
                json={"items": srs},
                headers=token(pair.client_id, "client"),
            ),
            201,
        )
    async with suite.http("alliance-monitor") as monitor:

        async def srs_seen() -> bool:
            answer = await monitor.get(f"/clients/{pair.client_id}/trend", headers=token("clinician-01", "clinician"))
            return len(answer.json()["srs"]["points"]) == 1

        await eventually(srs_seen)
    await page.goto(f"/clinician/clients/{pair.client_id}")
    chart = page.locator("svg#trend-chart")
    await chart.wait_for()
    assert await chart.locator("[data-role='srs-cutoff']").count() == 1
    assert await chart.locator("[data-role='ors-cutoff']").count() == 1
    assert await chart.locator("[data-role='band']").count() == 1
    assert await chart.locator("[data-role='srs-point']").count() == 1
    assert await chart.locator("[data-role='ors-point']").count() == 1
    description = await chart.locator("desc").text_content() or ""
    assert "SRS cutoff 36" in description and "ORS cutoff 25" in description
    assert "Reliable-change band 15 to 25" in description  # intake baseline 20.0 +/- 5
    await page.screenshot(path=str(ARTIFACTS / "clinician-client-trend.png"), full_page=True)
    await page.context.close()


async def test_clinician_cannot_open_another_clinicians_client(suite: Suite, browser: Browser) -> None:
    other = await client_in_session(suite, "clinician-02")
    await submit_pulse(suite, other, 2)  # an alert that belongs to clinician-02 only
    mine = token("clinician-01", "clinician")
    async with suite.http("alliance-monitor") as monitor:
        theirs = await eventually(
            lambda: _alerts(monitor, token("clinician-02", "clinician"), other.client_id), within=15
        )
    alert_id = theirs[0]["alert_id"]

    # by API, through the console's proxy: every owning service refuses or shows nothing
    async with suite.http("console") as console:
        await expect(console.get(f"/api/alliance/clients/{other.client_id}/trend", headers=mine), 403)
        await expect(console.get(f"/api/alliance/alerts/{alert_id}", headers=mine), 403)
        await expect(console.post(f"/api/alliance/alerts/{alert_id}/acknowledge", json={}, headers=mine), 403)
        listed = await expect(console.get(f"/api/alliance/alerts?client_id={other.client_id}", headers=mine), 200)
        assert listed["alerts"] == []
        await expect(console.get(f"/api/intake/clients/{other.client_id}/intake", headers=mine), 403)
        await expect(console.get("/api/intake/clinicians/clinician-02/caseload", headers=mine), 403)
        await expect(console.get(f"/api/consent/clients/{other.client_id}/consents", headers=mine), 403)
        await expect(console.get(f"/api/session/sessions/{other.session_id}", headers=mine), 403)

    # by URL: the page says so and shows none of the client's data
    page = await page_for(browser, suite)
    await sign_in(page, "clinician-01")
    await page.goto(f"/clinician/clients/{other.client_id}")
    refusal = page.locator("#client-refused")
    await refusal.wait_for()
    assert "not their clinician of record" in (await refusal.inner_text())
    assert await page.locator("svg#trend-chart").count() == 0
    await page.wait_for_selector("body[data-stream='live']")
    assert await page.locator(f"li.alert[data-alert-id='{alert_id}']").count() == 0
    await page.screenshot(path=str(ARTIFACTS / "clinician-refused.png"), full_page=True)
    await page.context.close()


async def _alerts(monitor: httpx.AsyncClient, headers: dict[str, str], client_id: str) -> list[Any]:
    answer = await monitor.get(f"/alerts?client_id={client_id}", headers=headers)
    return list(answer.json()["alerts"]) if answer.status_code == 200 else []


async def test_compliance_verifies_the_chain_and_downloads_a_csv_matching_the_ledger(
    suite: Suite, browser: Browser
) -> None:
    pair = await client_in_session(suite, "clinician-03")
    page = await page_for(browser, suite)
    await sign_in(page, "compliance-01")
    assert page.url.endswith("/compliance")
    await page.wait_for_selector("#ledger-table tbody tr")

    await page.get_by_role("button", name="Verify the chain").click()
    result = page.locator("#verify-result[data-ok]")
    await result.wait_for()
    assert await result.get_attribute("data-ok") == "true"
    assert "Chain intact" in await result.inner_text()

    await page.locator("#f-client").fill(pair.client_id)
    await page.get_by_role("button", name="Search").click()
    await page.wait_for_function("() => document.getElementById('search-status').textContent.startsWith('Page 1:')")
    cells = await page.locator("#ledger-table tbody tr").evaluate_all(
        "rows => rows.map(r => [r.cells[2].textContent, r.cells[3].textContent])"
    )
    assert {client for _, client in cells} == {pair.client_id}
    # three grants, plus this search itself: compliance reads are ledgered before they run
    assert sorted(action for action, _ in cells) == ["compliance.read", *["consent.granted"] * 3]
    await page.locator("#pit-client").fill(pair.client_id)
    await page.get_by_role("button", name="Show consents").click()
    await page.wait_for_selector("#pit-active")
    assert (
        await page.locator("#pit-active").inner_text()
        == "alliance-analytics, measurement-feedback, telehealth-treatment"
    )
    await page.screenshot(path=str(ARTIFACTS / "compliance.png"), full_page=True)

    await page.locator("#f-client").fill("")
    async with page.expect_download() as info:
        await page.get_by_role("button", name="Download CSV").click()
    download = await info.value
    assert download.suggested_filename == "consent-ledger.csv"
    rows = list(csv.DictReader(io.StringIO(text_of(await download.path()))))
    assert rows, "the CSV has no rows"

    ledger: list[dict[str, Any]] = []
    compliance = token("compliance-01", "compliance")
    async with suite.http("consent") as consent:
        after = 0
        while True:
            page_ = await expect(
                consent.get(f"/compliance/ledger?limit=500&after_seq={after}", headers=compliance), 200
            )
            ledger += page_["entries"]
            if page_["next_after_seq"] is None:
                break
            after = page_["next_after_seq"]
    by_seq = {entry["seq"]: entry for entry in ledger}
    # the ledger keeps growing (compliance reads are ledgered too): every CSV row is the entry of that seq
    assert [int(r["seq"]) for r in rows] == sorted(by_seq)[: len(rows)]
    for row in rows:
        entry = by_seq[int(row["seq"])]
        for name in ("entry_id", "at", "actor_id", "actor_role", "action", "hash", "prev_hash"):
            assert row[name] == str(entry[name]), (row["seq"], name)
        assert row["client_id"] == (entry["client_id"] or "") and row["scope"] == (entry["scope"] or "")
    assert {r["client_id"] for r in rows if r["action"] == "consent.granted"} >= {pair.client_id}

    async with page.expect_download() as info:
        await page.get_by_role("button", name="Download FHIR bundle").click()
    bundle = json.loads(text_of(await (await info.value).path()))
    assert bundle["resourceType"] == "Bundle"
    assert {e["resource"]["resourceType"] for e in bundle["entry"]} >= {"Consent", "AuditEvent"}
    await page.context.close()


async def test_operator_page_shows_throughput_and_no_client_identifiers(suite: Suite, browser: Browser) -> None:
    pairs = [await client_in_session(suite, "clinician-04")]
    page = await page_for(browser, suite)
    await sign_in(page, "operator-01")
    assert page.url.endswith("/operator")

    async def traffic() -> None:  # like the simulator: clients keep registering while the page is open
        async with suite.http("intake") as intake:
            for _ in range(40):
                await intake.post(
                    "/clients",
                    json={"client_id": f"e2e-{uuid.uuid4().hex[:10]}", "age_band": "adult", "timezone": "UTC"},
                    headers=SERVICE,
                )
                await asyncio.sleep(0.1)

    running = asyncio.create_task(traffic())
    try:
        await page.wait_for_function(
            """() => [...document.querySelectorAll('#throughput tbody tr')].some(
                 (tr) => tr.cells[0].textContent === 'intake.events' && parseFloat(tr.cells[1].textContent) > 0)""",
            timeout=20_000,
        )
    finally:
        await running
    # every service is ready, and its health tile says so
    async with httpx.AsyncClient(timeout=5) as http:
        for name, url in suite.urls.items():
            assert (await http.get(f"{url}/readyz")).status_code == 200, f"{name} is not ready"
            await page.wait_for_selector(f".tile.ready[data-service='{name}']")
    text = await page.locator("body").inner_text()
    html = await page.content()
    for pair in pairs:
        assert pair.client_id not in text and pair.client_id not in html
    assert "e2e-" not in html  # no client id of this run (they all start with e2e-)
    await page.screenshot(path=str(ARTIFACTS / "operator.png"), full_page=True)
    async with suite.http("console") as console:
        summary = await expect(console.get("/ops/summary", headers=token("operator-01", "operator")), 200)
    assert "e2e-" not in json.dumps(summary)
    await page.context.close()


async def test_sign_in_works_with_the_keyboard_only(suite: Suite, browser: Browser) -> None:
    page = await page_for(browser, suite)
    await page.goto("/signin")
    await page.wait_for_selector("#user-clinician-01")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.className") == "skip"
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.id") == "user-clinician-01"
    outline = await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", ""), "the focused radio has no visible focus"
    await page.keyboard.press("ArrowDown")
    assert await page.evaluate("document.activeElement.id") == "user-clinician-02"
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.id") == "demo-submit"
    assert await page.evaluate("getComputedStyle(document.activeElement).outlineStyle") not in ("none", "")
    await page.screenshot(path=str(ARTIFACTS / "signin-keyboard.png"), full_page=True)
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/clinician")
    await page.wait_for_function("() => document.getElementById('who').textContent.includes('clinician-02')")
    # the first Tab on the console lands on the skip link, which moves focus to the content
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent") == "Skip to content"
    await page.context.close()
