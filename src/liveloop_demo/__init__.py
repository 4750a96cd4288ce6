"""`liveloop demo`: a real server, a demo tenant, three live campaigns and a simulated audience.

Everything the audience does goes through the public HTTP API (share links, invites, event
batches), so the demo shows what a shop back end would see. The audience is drawn from a seeded
random generator: two runs with the same `--viewers` give the same figures.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from random import Random
from typing import Any

import httpx
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from liveloop.kit import clock
from liveloop.kit.db.inuse import DatabaseLock, InUse, sqlite_lock
from liveloop.kit.times import iso
from liveloop.settings import Settings
from liveloop_demo.hooks import HookReceiver
from liveloop_demo.social import run_social

DEMO_TENANT = "liveloop demo"
DEMO_HOST = "shop.example.com"
SEED = 20270301
MINUTE = 60_000
BATCH = 500
WHATSAPP_UA = "WhatsApp/2.23.20.0 A"
BROWSER_UA = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Mobile Safari/537.36"


class DemoError(Exception):
    """Something the demo cannot go on without; the message says what and why."""


@dataclass(frozen=True)
class Market:
    """One market's campaign in the demo story: its money, names and legal bits."""

    code: str
    campaign_id: str
    title: str
    currency: str
    locale: str
    share: float  # part of the audience watching this market's live
    referrer_coupon: str
    referee_coupon: str
    tier_coupon: str
    order_cents: tuple[int, int]  # range of order amounts in minor units (IDR orders round to 1,000 rupiah)
    prize_sku: str
    names: tuple[str, ...]
    channels: tuple[str, ...]
    permit: str | None = None
    free_entry: bool = False
    tight_budget: bool = False  # this campaign's budget runs out during the live


MARKETS = (
    Market("ID", "demo-id", "Flash Sale Batik Live", "IDR", "id-ID", 0.45, "25000", "15000", "100000",
           (49_000_00, 1_499_000_00), "BATIK-SCARF-01",
           ("Sari", "Budi", "Putri", "Agus", "Dewi", "Rizky", "Wulan", "Andi", "Intan", "Fajar"),
           ("whatsapp", "instagram", "tiktok"), permit="KEMENSOS-UGB-2027-0042", tight_budget=True),
    Market("AE", "demo-ae", "Oud & Abaya Evening Live", "AED", "ar-AE", 0.25, "15", "10", "50",
           (25_00, 900_00), "OUD-MINI-01",
           ("Fatima", "Omar", "Layla", "Ahmed", "Noor", "Yousef", "Mariam", "Khalid", "Huda", "Zayed"),
           ("whatsapp", "instagram", "snapchat"), permit="DET-PROMO-2027-1187"),
    Market("US", "demo-us", "Sneaker Drop Live", "USD", "en-US", 0.30, "5", "5", "20",
           (10_00, 250_00), "SNEAKER-SOCKS-01",
           ("Emily", "Jake", "Olivia", "Mason", "Ava", "Ethan", "Sophia", "Liam", "Mia", "Noah"),
           ("sms", "instagram", "whatsapp"), free_entry=True),
)


# -- the simulated audience (pure: no I/O) -----------------------------------------------------


@dataclass
class Person:
    user_id: str
    role: str  # "sharer" (seed viewer with an invite link), "friend" (came by a link) or "organic"
    via: Person | None = None  # whose link a friend followed
    display_name: str | None = None
    channel: str = ""
    self_referral: bool = False
    clicks: int = 0
    code: str | None = None  # the sharer's invite code, once the API gave it
    url: str | None = None


@dataclass
class Planned:
    at: int
    type: str
    user: Person
    ref_owner: Person | None = None  # whose invite code the event carries
    order: tuple[str, str] | None = None  # (order id, amount)
    bad_clock: bool = False  # a device whose clock is hours ahead: the server rejects it


@dataclass
class CampaignPlan:
    market: Market
    starts_at: int
    ends_at: int
    people: list[Person] = field(default_factory=list)
    events: list[Planned] = field(default_factory=list)

    @property
    def sharers(self) -> list[Person]:
        return [p for p in self.people if p.role == "sharer"]

    def expected_funnel(self) -> dict[str, Any]:
        """The report's funnel as the simulated audience should produce it."""
        valid = [e for e in self.events if not e.bad_clock]
        paid = {e.order[0]: Decimal(e.order[1]) for e in valid if e.type == "order_paid" and e.order}
        for e in valid:
            if e.type == "order_refunded" and e.order:
                paid.pop(e.order[0], None)
        return {
            "clicks": sum(p.clicks for p in self.people),
            "reservations": len({e.user.user_id for e in valid if e.type == "reservation"}),
            "joins": len({e.user.user_id for e in valid if e.type == "room_join"}),
            "orders": len(paid),
            "gmv": sum(paid.values(), Decimal(0)),
        }

    def budget(self) -> str:
        """A budget the audience exhausts near the end of the live (tight) or stays well within."""
        m = self.market
        reservers: Counter[str] = Counter()
        joiners: Counter[str] = Counter()
        cashback = Decimal(0)
        for e in self.events:
            owner = e.user.via
            if owner is None or e.bad_clock:
                continue
            if e.type == "reservation":
                reservers[owner.user_id] += 1
            elif e.type == "room_join":
                joiners[owner.user_id] += 1
            elif e.type == "order_paid" and e.order:
                cashback += Decimal(e.order[1]) * Decimal("0.05")
        spend = (sum(min(n, 5) for n in reservers.values()) * Decimal(m.referrer_coupon)
                 + sum(reservers.values()) * Decimal(m.referee_coupon)
                 + sum(1 for n in joiners.values() if n >= 10) * Decimal(m.tier_coupon) + cashback)
        factor = Decimal("0.8") if m.tight_budget else Decimal(2)
        return str(_round_down(spend * factor) or Decimal(m.tier_coupon))


def _round_down(value: Decimal) -> Decimal:
    """To two significant digits, so a budget reads like one a person would set."""
    if value < 100:
        return value.quantize(Decimal(1))
    step = Decimal(10) ** (len(str(int(value))) - 2)
    return (value // step) * step


def plan_audience(viewers: int, *, now: int, seed: int = SEED) -> list[CampaignPlan]:
    """Who watches which live, who shares, whose link each friend follows and what each one does."""
    rng = Random(seed)
    starts_at, ends_at = now - 30 * MINUTE, now + 90 * MINUTE
    plans = []
    remaining = viewers
    for i, market in enumerate(MARKETS):
        size = remaining if i == len(MARKETS) - 1 else round(viewers * market.share)
        remaining -= size
        plan = CampaignPlan(market, starts_at, ends_at)
        _cast(rng, plan, size)
        for person in plan.people:
            _behave(rng, plan, person, now)
        _bad_clocks(rng, plan, now)
        plan.events.sort(key=lambda e: e.at)
        plans.append(plan)
    return plans


def _cast(rng: Random, plan: CampaignPlan, size: int) -> None:
    m = plan.market
    n_sharers = max(1, round(size * 0.08)) if size else 0
    n_organic = round(size * 0.22)
    n_friends = max(0, size - n_sharers - n_organic)
    prefix = m.code.lower()
    sharers = [
        Person(f"{prefix}-s{i:04d}", "sharer", display_name=f"{rng.choice(m.names)} {chr(65 + rng.randrange(26))}.",
               channel=rng.choice(m.channels), self_referral=rng.random() < 0.1)
        for i in range(n_sharers)
    ]
    # A few sharers bring most friends: that is what a referral leaderboard looks like.
    weights = [rng.paretovariate(1.6) for _ in sharers]
    friends = [Person(f"{prefix}-f{i:05d}", "friend", via=rng.choices(sharers, weights)[0]) for i in range(n_friends)]
    organic = [Person(f"{prefix}-o{i:05d}", "organic") for i in range(n_organic)]
    plan.people = sharers + friends + organic


def _behave(rng: Random, plan: CampaignPlan, person: Person, now: int) -> None:
    start = plan.starts_at
    ref = person.via or (person if person.self_referral else None)
    add = plan.events.append

    def event(at: int, kind: str, **extra) -> None:
        add(Planned(at, kind, person, ref_owner=ref, **extra))

    if person.role == "friend":
        person.clicks = (rng.random() < 0.9) + (rng.random() < 0.12)
    p_reserve, p_join = {"sharer": (0.9, 0.95), "friend": (0.7, 0.75), "organic": (0.5, 0.85)}[person.role]
    if person.role == "sharer":
        event(start - rng.randrange(60, 3 * 24 * 60) * MINUTE, "share")
    if rng.random() < p_reserve:
        event(start - rng.randrange(1, 2 * 24 * 60) * MINUTE, "reservation")
    if rng.random() < p_join:
        # The live started 30 minutes ago: every join, leave and order lies in the past.
        joined = start + rng.randrange(0, 20 * MINUTE)
        event(joined, "room_join")
        if rng.random() < 0.2:  # dropped out and came back: still one join
            left = joined + rng.randrange(MINUTE, 5 * MINUTE)
            event(left, "room_leave")
            event(left + rng.randrange(1000, MINUTE), "room_join")
        if rng.random() < {"sharer": 0.3, "friend": 0.25, "organic": 0.2}[person.role]:
            order_id = f"{plan.market.campaign_id}-order-{len(plan.events):06d}"
            paid = rng.randrange(joined + MINUTE, now - MINUTE)
            low, high = plan.market.order_cents
            cents = rng.randrange(low, high)
            amount = f"{cents // 100_000 * 1000}" if plan.market.currency == "IDR" else f"{cents / 100:.2f}"
            event(paid, "order_paid", order=(order_id, amount))
            if rng.random() < 0.08:
                event(rng.randrange(paid, now), "order_refunded", order=(order_id, amount))


def _bad_clocks(rng: Random, plan: CampaignPlan, now: int) -> None:
    # A handful of phones whose clock runs hours ahead: their events are rejected, the rest kept.
    watchers = [p for p in plan.people if p.role == "organic"]
    for person in rng.sample(watchers, min(len(watchers), max(1, len(plan.people) // 400))):
        plan.events.append(Planned(now + 3 * 60 * MINUTE, "room_join", person, bad_clock=True))


@dataclass
class Wire:
    bodies: list[dict]  # in the order they are sent
    duplicates: int  # re-sent copies among them
    bad_clock: set[str]  # ids of the events the server must reject


def wire_events(plans: list[CampaignPlan], rng: Random) -> Wire:
    """The batches' contents in arrival order, with ~3% re-sent as a client retrying would."""
    slots: list[tuple[float, dict]] = []
    duplicates = 0
    bad: set[str] = set()
    merged = sorted(((e, p) for p in plans for e in p.events), key=lambda item: item[0].at)
    for index, (e, plan) in enumerate(merged):
        body: dict[str, Any] = {"id": f"ev-{plan.market.campaign_id}-{index + 1:06d}", "type": e.type,
                                "campaign_id": plan.market.campaign_id, "user_id": e.user.user_id, "at": iso(e.at)}
        if e.ref_owner is not None:
            body["ref"] = e.ref_owner.code
        if e.order is not None:
            body["order"] = {"id": e.order[0], "amount": e.order[1], "currency": plan.market.currency}
        slots.append((index, body))
        if e.bad_clock:
            bad.add(body["id"])
        elif rng.random() < 0.03:
            slots.append((index + rng.randrange(20, 700) + 0.5, body))
            duplicates += 1
    slots.sort(key=lambda s: s[0])
    return Wire([body for _key, body in slots], duplicates, bad)


# -- the database and the server ---------------------------------------------------------------


def _sqlite_path(url: str) -> Path | None:
    if not url.startswith("sqlite"):
        return None
    path = url.split("///", 1)[1].split("?", 1)[0] if "///" in url else ""
    if not path or path == ":memory:":
        raise DemoError("the demo server runs in its own process, so it needs a database file, "
                        "e.g. --database-url sqlite:///var/demo.db")
    return Path(path)


def claim_database(url: str) -> DatabaseLock | None:
    """Hold the demo's SQLite file alone before it is deleted: never a file a running server holds."""
    lock = sqlite_lock(url)
    if lock is None:
        return None
    try:
        lock.exclusive()
    except InUse:
        lock.release()
        raise DemoError(f"{_sqlite_path(url)} is in use by a running liveloop server (another `liveloop demo`?); "
                        "stop it first, or give this demo its own file, e.g. --database-url sqlite:///var/demo-2.db"
                        ) from None
    return lock


def reset_database(url: str) -> None:
    """Start every demo from an empty file, but never delete a database the demo did not create.

    Call it holding the file alone (`claim_database`)."""
    path = _sqlite_path(url)
    if path is None or not path.exists():
        return
    if path.stat().st_size:
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
                tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
                names = {r[0] for r in conn.execute("SELECT name FROM tenants")} if "tenants" in tables else set()
        except sqlite3.Error as exc:
            raise DemoError(f"{path} is not a liveloop demo database ({exc}); pass another --database-url") from None
        if (tables - {"alembic_version"} and "tenants" not in tables) or names - {DEMO_TENANT}:
            raise DemoError(f"{path} holds data that an earlier demo did not create; the demo starts from an empty "
                            "file each time, so give it its own, e.g. --database-url sqlite:///var/demo.db")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


DEMO_OPERATOR = "demo@liveloop.local"


@dataclass
class DemoTenant:
    key: str
    operator_password: str  # the console login of DEMO_OPERATOR


def create_demo_tenant(url: str) -> DemoTenant:
    """Migrate and create the demo tenant and its console operator."""
    from liveloop.console.operators import add_operator, new_password
    from liveloop.kit.db.dialect import create_engine
    from liveloop.kit.db.migrate import upgrade
    from liveloop.tenants.service import create_tenant

    path = _sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    upgrade(url)
    engine = create_engine(url)
    try:
        password = new_password()
        with engine.begin() as conn:
            tenant, key = create_tenant(conn, name=DEMO_TENANT, allowed_hosts=[DEMO_HOST], now=clock.now_ms())
            add_operator(conn, tenant_id=tenant.id, email=DEMO_OPERATOR, password=password, now=clock.now_ms())
    finally:
        engine.dispose()
    return DemoTenant(key, password)


def _any_free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def choose_port(host: str, wanted: int, console: Console) -> int:
    for port in range(wanted, wanted + 20):
        if _port_free(host, port):
            if port != wanted:
                console.print(f"[yellow]port {wanted} is in use (another liveloop?); the demo uses port {port}[/]")
            return port
    raise DemoError(f"ports {wanted}..{wanted + 19} on {host} are all in use; pass a free one with --port")


def start_server(settings: Settings, port: int, log_path: Path) -> subprocess.Popen:
    exe = Path(sys.executable).parent / "liveloop"
    if not exe.exists():
        raise DemoError(f"the liveloop command is not installed next to {sys.executable}; run `make install`")
    args = [str(exe), "serve", "--database-url", settings.database_url, "--host", settings.host,
            "--port", str(port), "--no-migrate"]
    if settings.public_url:
        args += ["--public-url", settings.public_url]
    env = {**os.environ, "LIVELOOP_LOG_LEVEL": os.environ.get("LIVELOOP_LOG_LEVEL", "warning"),
           # the demo's webhook receiver listens on this machine (never do this in production)
           "LIVELOOP_WEBHOOKS_ALLOW_PRIVATE": "true", "LIVELOOP_WEBHOOKS_POLL_SECONDS": "0.2",
           # the whole simulated audience clicks from this one address: no per-address limits
           "LIVELOOP_RATE_LIMIT_SHARE_PER_MINUTE": "0", "LIVELOOP_RATE_LIMIT_STREAM_PER_MINUTE": "0",
           "LIVELOOP_RATE_LIMIT_PRESENCE_PER_MINUTE": "0"}
    with open(log_path, "wb") as log:
        # Its own session: Ctrl+C reaches the demo only, which then stops the server cleanly.
        return subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def wait_healthy(proc: subprocess.Popen, url: str, log_path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise DemoError(f"the server exited with code {proc.returncode} before it was ready:\n{_tail(log_path)}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise DemoError(f"the server did not answer {url}/healthz within {timeout:.0f} s:\n{_tail(log_path)}")


def stop_server(proc: subprocess.Popen) -> int:
    if proc.poll() is None:
        proc.terminate()  # uvicorn finishes the requests in flight and closes the database
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# -- the HTTP API ------------------------------------------------------------------------------


class Api:
    """A thin client that turns any unexpected answer into a DemoError carrying the response body."""

    def __init__(self, url: str, key: str) -> None:
        self.http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30,
                                 follow_redirects=False, limits=httpx.Limits(max_connections=16))

    def call(self, method: str, path: str, expect: Iterable[int] = (200,), **kwargs) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise DemoError(f"{method} {path} failed: {exc!r}") from None
        if response.status_code not in tuple(expect):
            raise DemoError(f"{method} {path} answered {response.status_code}: {response.text[:2000]}")
        return response

    def close(self) -> None:
        self.http.close()


def campaign_body(plan: CampaignPlan) -> dict:
    m = plan.market
    draw: dict[str, Any] = {"id": "room-draw", "type": "draw", "entry": {"metric": "joins", "at_least": 3},
                            "period": "campaign", "winners": 3, "prize": {"kind": "free_item", "sku": m.prize_sku}}
    if m.permit:
        draw["permit"] = m.permit
    if m.free_entry:
        draw["free_entry"] = True
    return {
        "id": m.campaign_id,
        "title": m.title,
        "market": m.code,
        "starts_at": iso(plan.starts_at),
        "ends_at": iso(plan.ends_at),
        "landing_url": f"https://{DEMO_HOST}/live/{m.campaign_id}",
        "budget": plan.budget(),
        "leaderboard": {"metric": "joins"},
        "rules": [
            {"id": "reserve-together", "type": "reservation_referral", "max_per_referrer": 5,
             "referrer_reward": {"kind": "coupon", "amount": m.referrer_coupon},
             "referee_reward": {"kind": "coupon", "amount": m.referee_coupon}},
            {"id": "room-builder", "type": "milestone", "metric": "joins", "tiers": [
                {"at": 3, "reward": {"kind": "badge", "name": "Room Builder"}},
                {"at": 10, "reward": {"kind": "coupon", "amount": m.tier_coupon}}]},
            {"id": "front-row", "type": "milestone", "metric": "reservations", "tiers": [
                {"at": 5, "reward": {"kind": "privilege", "name": "early notice of flash deals"}}]},
            {"id": "commission", "type": "order_commission", "percent": "5", "hold_days": 7},
            draw,
        ],
    }


def create_campaigns(api: Api, plans: list[CampaignPlan]) -> None:
    for plan in plans:
        api.call("POST", "/v1/campaigns", expect=(201,), json=campaign_body(plan))


def _parallel(fn: Callable[[Any], None], items: list, progress: Progress, task: TaskID) -> None:
    def run(item: Any) -> None:
        fn(item)
        progress.advance(task)

    pool = ThreadPoolExecutor(max_workers=8)
    try:
        list(pool.map(run, items))  # re-raises the first failure
    finally:
        pool.shutdown(cancel_futures=True)  # after a failure or Ctrl+C, do not send the rest


def register_sharers(api: Api, plans: list[CampaignPlan], progress: Progress) -> None:
    """Each seed sharer gets a profile with a display name and an invite link for their channel."""
    todo = [(plan, person) for plan in plans for person in plan.sharers]
    task = progress.add_task("profiles and invite links", total=len(todo))

    def register(item: tuple[CampaignPlan, Person]) -> None:
        plan, person = item
        api.call("PUT", f"/v1/users/{person.user_id}", expect=(200, 201), json={
            "market": plan.market.code, "locale": plan.market.locale, "display_name": person.display_name,
            "consents": {"leaderboard_public": True}})
        invite = api.call("POST", f"/v1/campaigns/{plan.market.campaign_id}/invites", expect=(201,),
                          json={"user_id": person.user_id, "channel": person.channel}).json()
        person.code, person.url = invite["code"], invite["url"]

    _parallel(register, todo, progress, task)


def click_links(api: Api, plans: list[CampaignPlan], progress: Progress) -> int:
    """Friends open the share links; WhatsApp fetches a preview of each link shared there. Returns previews."""
    clicks = [p.via for plan in plans for p in plan.people if p.role == "friend" for _ in range(p.clicks)]
    previews = [p for plan in plans for p in plan.sharers if p.channel == "whatsapp"]
    task = progress.add_task("share-link clicks", total=len(clicks) + len(previews))

    def click(owner: Person) -> None:
        response = api.call("GET", f"/s/{owner.code}", expect=(302,), headers={"User-Agent": BROWSER_UA})
        if f"ll_ref={owner.code}" not in response.headers.get("location", ""):
            raise DemoError(f"/s/{owner.code} redirected to {response.headers.get('location')!r}, without ll_ref")

    def preview(owner: Person) -> None:
        api.call("GET", f"/s/{owner.code}", expect=(200,), headers={"User-Agent": WHATSAPP_UA})

    _parallel(click, clicks, progress, task)
    _parallel(preview, previews, progress, task)
    return len(previews)


@dataclass
class Ingested:
    sent: int = 0
    batches: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: Counter[str] = field(default_factory=Counter)


def send_events(api: Api, bodies: list[dict], expected_rejects: set[str], progress: Progress) -> Ingested:
    task = progress.add_task("events", total=len(bodies))
    totals = Ingested()
    for start in range(0, len(bodies), BATCH):
        batch = bodies[start:start + BATCH]
        answer = api.call("POST", "/v1/events", json={"events": batch}).json()
        for rejected in answer["rejected"]:
            event_id = batch[rejected["index"]]["id"]
            if event_id not in expected_rejects:
                raise DemoError(f"event {event_id} was rejected: {rejected['error']}")
            totals.rejected[rejected["error"]["code"]] += 1
        totals.sent += len(batch)
        totals.batches += 1
        totals.accepted += answer["accepted"]
        totals.duplicates += answer["duplicates"]
        progress.advance(task, len(batch))
    return totals


# -- what the API says happened ----------------------------------------------------------------


@dataclass
class Outcome:
    plan: CampaignPlan
    report: dict
    leaderboard: dict
    declined: Counter[str]
    cap_ok: bool
    self_referral_ok: bool | None


def collect(api: Api, plan: CampaignPlan) -> Outcome:
    cid = plan.market.campaign_id
    report = api.call("GET", f"/v1/campaigns/{cid}/report").json()
    leaderboard = api.call("GET", f"/v1/campaigns/{cid}/leaderboard", params={"limit": 5}).json()
    rewards: list[dict] = []
    while True:
        page = api.call("GET", f"/v1/campaigns/{cid}/rewards",
                        params={"limit": 10_000, "offset": len(rewards)}).json()["rewards"]
        rewards += page
        if len(page) < 10_000:
            break
    declined = Counter(r["reason"] for r in rewards if r["status"] == "declined")
    granted = Counter(r["user_id"] for r in rewards if r["rule_id"] == "reserve-together" and r["role"] == "referrer"
                      and r["status"] in ("available", "pending"))
    self_referrer = next((p for p in plan.sharers if p.self_referral), None)
    self_ok = None
    if self_referrer is not None:
        progress = api.call("GET", f"/v1/campaigns/{cid}/users/{self_referrer.user_id}/progress").json()
        self_ok = progress["referrer"] is None
    return Outcome(plan, report, leaderboard, declined, all(n <= 5 for n in granted.values()), self_ok)


# -- the summary -------------------------------------------------------------------------------


def _money(value: str | Decimal | None, currency: str) -> str:
    if value is None:
        return "-"
    amount = Decimal(value)
    return f"{amount:,.0f} {currency}" if currency == "IDR" else f"{amount:,.2f} {currency}"


def _names(plans: list[CampaignPlan]) -> dict[str, str]:
    return {p.user_id: p.display_name or p.user_id for plan in plans for p in plan.people}


def print_summary(console: Console, outcomes: list[Outcome], totals: Ingested, expected: dict[str, int],
                  previews: int) -> list[str]:
    """Print the tables; returns the checks that failed (figures that disagree with the audience)."""
    failures: list[str] = []
    names = _names([o.plan for o in outcomes])
    for o in outcomes:
        m = o.plan.market
        table = Table(title=f"{m.campaign_id} · {m.title} · {m.code} · top referrers (leaderboard: joins)",
                      title_justify="left")
        for col in ("rank", "referrer", "joins", "reservations", "orders", "GMV", "rewards"):
            table.add_column(col, justify="left" if col == "referrer" else "right")
        rows = {r["user_id"]: r for r in o.report["referrers"]}
        for entry in o.leaderboard["entries"]:
            row = rows.get(entry["user_id"], {})
            table.add_row(str(entry["rank"]), entry["display_name"] or names.get(entry["user_id"], entry["user_id"]),
                          str(entry["score"]), str(row.get("reservations", "")), str(row.get("orders", "")),
                          _money(row.get("gmv"), m.currency), str(row.get("rewards", "")))
        console.print(table)

    funnel = Table(title="Funnel (server report; clicks are real share-link redirects)", title_justify="left")
    for col in ("campaign", "clicks", "reservations", "joins", "orders", "GMV", "referred users", "K-factor", "check"):
        funnel.add_column(col, justify="left" if col in ("campaign", "check") else "right")
    for o in outcomes:
        f, ref, org = o.report["funnel"], o.report["referred"], o.report["organic"]
        want = o.plan.expected_funnel()
        got = {**{k: f[k] for k in ("clicks", "reservations", "joins", "orders")}, "gmv": Decimal(f["gmv"])}
        ok = got == want
        if not ok:
            failures.append(f"{o.plan.market.campaign_id} funnel {got} differs from the simulated audience {want}")
        funnel.add_row(o.plan.market.campaign_id, str(f["clicks"]), str(f["reservations"]), str(f["joins"]),
                       str(f["orders"]), _money(f["gmv"], o.report["currency"]),
                       f"{ref['users']} of {ref['users'] + org['users']}", str(o.report["k_factor"] or "-"),
                       "[green]matches audience[/]" if ok else "[red]MISMATCH[/]")
    console.print(funnel)
    console.print(f"  K-factor = {outcomes[0].report['k_factor_definition']}")
    console.print("  check: \"matches audience\" when the server's clicks, reservations, joins, orders and GMV equal "
                  "what the simulated audience did; MISMATCH when any differs")

    rewards = Table(title="Rewards (ledger status) and budget", title_justify="left")
    for col in ("campaign", "available", "pending", "void", "declined", "budget used / total"):
        rewards.add_column(col, justify="left" if col == "campaign" else "right")
    for o in outcomes:
        counts, budget, cur = o.report["rewards"], o.report["budget"], o.report["currency"]
        reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(o.declined.items()))
        used, total = Decimal(budget["used"] or 0), Decimal(budget["total"] or 0)
        share = f" ({used / total:.0%})" if total else ""
        rewards.add_row(o.plan.market.campaign_id, str(counts.get("available", 0)), str(counts.get("pending", 0)),
                        str(counts.get("void", 0)),
                        f"{counts.get('declined', 0)}" + (f" ({reasons})" if reasons else ""),
                        f"{_money(used, cur)} / {_money(total, cur)}{share}")
        if total and used > total:
            failures.append(f"{o.plan.market.campaign_id} spent {used} of a {total} budget")
        if not o.cap_ok:
            failures.append(f"{o.plan.market.campaign_id} granted a referrer more than max_per_referrer (5) coupons")
        if o.self_referral_ok is False:
            failures.append(f"{o.plan.market.campaign_id} attributed a self-referral")
    console.print(rewards)
    console.print("  pending = cashback held for hold_days (7); void = clawed back by a refund; "
                  "declined rewards stay in the ledger with their reason")

    clicks = sum(o.report["funnel"]["clicks"] for o in outcomes)
    console.print(
        f"\nevents sent: {totals.sent} in {totals.batches} batches  accepted: {totals.accepted}  "
        f"duplicates: {totals.duplicates}  rejected: {sum(totals.rejected.values())}"
        + (f" ({', '.join(f'{c} {n}' for c, n in totals.rejected.items())})" if totals.rejected else ""))
    console.print(f"  {expected['duplicates']} events were re-sent on purpose (a client retrying): acknowledged, "
                  "counted once; events from phones with a clock hours ahead are rejected alone")
    console.print(f"share links: {clicks} clicks counted; {previews} WhatsApp link previews served, not counted")
    for name, got in (("accepted", totals.accepted), ("duplicates", totals.duplicates),
                      ("rejected", sum(totals.rejected.values()))):
        if got != expected[name]:
            failures.append(f"{name}: the server said {got}, the simulation sent {expected[name]}")
    return failures


def _subscribe(url: str, key: str, receiver_url: str) -> str:
    """The demo shop's webhook endpoint, for every message type; returns its signing secret."""
    answer = httpx.post(f"{url}/v1/webhook-endpoints", json={"url": receiver_url, "description": "demo shop"},
                        headers={"Authorization": f"Bearer {key}"}, timeout=30)
    if answer.status_code != 201:
        raise DemoError(f"could not create the demo's webhook endpoint: {answer.status_code} {answer.text[:300]}")
    return answer.json()["secret"]


def print_webhooks(console: Console, hooks: HookReceiver) -> None:
    received = ", ".join(f"{n} {kind}" for kind, n in sorted(hooks.types.items())) or "none"
    console.print(f"webhooks at {hooks.url}, each signature checked with the standardwebhooks library: "
                  f"{received}" + (f"; [red]{hooks.forged} failed verification[/]" if hooks.forged else ""))


def _sharer_page(url: str, key: str, cid: str, user_id: str) -> str | None:
    answer = httpx.get(f"{url}/v1/campaigns/{cid}/sharers/{user_id}/report",
                       headers={"Authorization": f"Bearer {key}"}, timeout=30)
    return answer.json().get("page_url") if answer.status_code == 200 else None


def print_links(console: Console, base_url: str, local: str, tenant: DemoTenant, outcomes: list[Outcome]) -> None:
    key = tenant.key
    first = next((o for o in outcomes if o.plan.sharers), outcomes[0])
    cid = first.plan.market.campaign_id
    console.print()
    console.print(f"API base:      {base_url}/v1  (docs at {base_url}/docs)")
    console.print(f"Console:       {base_url}/console  login {DEMO_OPERATOR}  password {tenant.operator_password}")
    if first.plan.sharers:
        entries = first.leaderboard["entries"]
        top = entries[0]["user_id"] if entries else first.plan.sharers[0].user_id
        sharer = next((p for p in first.plan.sharers if p.user_id == top), first.plan.sharers[0])
        console.print(f"Share link:    {sharer.url}  ({sharer.display_name}, {cid})")
        console.print(f"Progress:      {base_url}/v1/campaigns/{cid}/users/{sharer.user_id}/progress"
                      "  (with the API key)")
        page = _sharer_page(local, key, cid, sharer.user_id)
        if page:
            console.print(f"Thank-you:     {page}  ({sharer.display_name}'s results page, no login)")
    console.print(f"Try:           curl -H 'Authorization: Bearer <API key>' {base_url}/v1/campaigns/{cid}/report")
    console.print(f"API key: {key}")


# -- the whole demo ----------------------------------------------------------------------------


def run_demo(settings: Settings, *, viewers: int, keep_running: bool) -> int:
    """`liveloop demo`: returns the process exit code."""
    # soft_wrap: prose lines are left for the terminal to wrap, so URLs and the key stay whole.
    console = Console(highlight=False, soft_wrap=True)
    if not console.is_terminal:  # a log or a pipe: wide enough that the tables do not fold
        console = Console(highlight=False, soft_wrap=True, width=max(console.width, 120))
    if viewers < 1:
        console.print("[red]demo failed:[/] --viewers must be at least 1")
        return 2
    previous = _stop_signals_as_interrupt()
    proc = None
    lock = None
    try:
        port = choose_port(settings.host, settings.port, console)
        settings = settings.model_copy(update={"port": port})
        lock = claim_database(settings.database_url)
        reset_database(settings.database_url)
        tenant = create_demo_tenant(settings.database_url)
        key = tenant.key
        if lock is not None:
            lock.shared()  # beside the server the demo starts now; still not for another demo to delete
        log_path = _log_path(settings.database_url)
        proc = start_server(settings, port, log_path)
        local = f"http://{'127.0.0.1' if settings.host in ('0.0.0.0', '') else settings.host}:{port}"
        wait_healthy(proc, local, log_path)
        console.print(f"liveloop is serving {settings.database_url} on {settings.base_url} (log: {log_path})")
        with HookReceiver(_any_free_port()) as hooks:
            hooks.secret = _subscribe(local, key, hooks.url)
            outcomes = _drive(console, local, key, viewers)
            hooks.settle()
            print_webhooks(console, hooks)
        print_links(console, settings.base_url, local, tenant, outcomes)
        if keep_running:
            return _serve_until_interrupted(console, proc)
        return 0
    except DemoError as exc:
        console.print("[red]demo failed:[/]", escape(str(exc)))
        return 1
    except KeyboardInterrupt:
        console.print("interrupted")
        return 130
    finally:
        if proc is not None:
            stop_server(proc)
        if lock is not None:
            lock.release()
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _drive(console: Console, url: str, key: str, viewers: int) -> list[Outcome]:
    started = time.monotonic()
    plans = plan_audience(viewers, now=clock.now_ms())
    api = Api(url, key)
    try:
        create_campaigns(api, plans)
        console.print(f"created campaigns {', '.join(p.market.campaign_id for p in plans)}: the live started "
                      f"30 minutes ago and ends in 90; {viewers} viewers are on their way")
        columns = (TextColumn("{task.description:<26}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console) as progress:
            register_sharers(api, plans, progress)
            previews = click_links(api, plans, progress)
            wire = wire_events(plans, Random(SEED + 1))
            totals = send_events(api, wire.bodies, wire.bad_clock, progress)
        outcomes = [collect(api, plan) for plan in plans]
        expected = {"accepted": len(wire.bodies) - wire.duplicates - len(wire.bad_clock),
                    "duplicates": wire.duplicates, "rejected": len(wire.bad_clock)}
        failures = print_summary(console, outcomes, totals, expected, previews)
        console.print(f"the audience took {time.monotonic() - started:.1f} s")
        run_social(console, api, plans[0].market.campaign_id)
    finally:
        api.close()
    for failure in failures:
        console.print("[red]mismatch:[/]", escape(failure))
    return outcomes


def _log_path(url: str) -> Path:
    path = _sqlite_path(url)
    if path is not None:
        return path.with_name(path.stem + "-server.log")
    return Path(tempfile.gettempdir()) / "liveloop-demo-server.log"


def _serve_until_interrupted(console: Console, proc: subprocess.Popen) -> int:
    # Ctrl+C, a terminate or a closed terminal only ask the wait below to stop, and that is in place
    # before "server running" is printed: a Ctrl+C pressed as the line appears used to escape as
    # KeyboardInterrupt from the middle of printing it (exit 130, the line printed twice).
    stop = threading.Event()
    previous = {signum: signal.signal(signum, lambda _signum, _frame: stop.set()) for signum in _STOP_SIGNALS}
    try:
        console.print("\nserver running, Ctrl+C to stop")
        while not stop.wait(0.2):
            code = proc.poll()
            if code is not None:
                console.print(f"[red]the server stopped by itself with code {code}[/]")
                return code or 1
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    console.print("stopping the server...")
    stop_server(proc)
    return 0


# What stops a demo besides Ctrl+C: `kill`, and the terminal it runs in being closed.
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, *((signal.SIGHUP,) if hasattr(signal, "SIGHUP") else ()))


def _stop_signals_as_interrupt() -> dict:
    """A terminated demo, or one whose terminal closed, stops its server too, as Ctrl+C does."""

    def handler(_signum, _frame):
        raise KeyboardInterrupt

    previous = {}
    for signum in _STOP_SIGNALS:
        if signum == signal.SIGINT:
            continue  # Python already raises KeyboardInterrupt for it
        try:
            previous[signum] = signal.signal(signum, handler)
        except ValueError:  # not the main thread (run_demo called from a test): leave signals alone
            return previous
    return previous
