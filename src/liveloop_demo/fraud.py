"""`liveloop simulate fraud`: fraud signals measured against ground truth, through the HTTP API.

A population of labelled viewers is built per market region, sent to a real server as users
(`PUT /v1/users`, with emails), invites and event batches, and the server's verdicts are read back
from the reward ledger: a referral is flagged when its referee's reward is held for review
(`pending`, `review`) or declined (`fraud`). Honest viewers: friends on their own devices, families
behind one home address, dormitories behind one busy address, carrier-grade NAT (100.64.0.0/10,
far more common in SEA and MENA), bursts of honest sharing during a live, and a few who borrow the
sharer's phone. Farmers: a device pool behind many accounts (`+alias` or disposable emails, from a
home address or a mobile carrier), scripted velocity bursts from fresh devices, and two-person
rings across two campaigns. docs/fraud.md explains the population and the figures.
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from random import Random

from rich.console import Console
from rich.table import Table

from liveloop.settings import Settings
from liveloop_demo import Api, DemoError, _any_free_port, create_demo_tenant, start_server, stop_server, wait_healthy

# Share of honest viewers on a mobile carrier's NAT, by region (carrier NAT is the norm on SEA and
# MENA mobile networks; EU and NA viewers are more often on a home line of their own).
CGNAT_SHARE = {"SEA": 0.7, "MENA": 0.6, "EU": 0.15, "NA": 0.2}
MARKETS = {"SEA": "ID", "MENA": "AE", "EU": "DE", "NA": "US"}
DISPOSABLE = ("mailinator.com", "guerrillamail.com", "yopmail.com", "sharklasers.com", "10minutemail.com")
FREEMAIL = ("gmail.com", "yahoo.com", "outlook.com", "icloud.com", "proton.me")


@dataclass
class Referral:
    campaign: str
    referee: str
    fraud: bool
    kind: str
    shared_address: bool = False  # an honest referee behind the same address as its referrer


@dataclass
class Population:
    region: str
    users: dict[str, str | None] = field(default_factory=dict)  # user -> email
    sharers: dict[tuple[str, str], None] = field(default_factory=dict)  # (campaign, user) with a code
    events: list[dict] = field(default_factory=list)  # {campaign, user, at, ref_owner, device, ip}
    referrals: list[Referral] = field(default_factory=list)


class Builder:
    def __init__(self, region: str, rng: Random, start: datetime) -> None:
        self.region = region
        self.rng = rng
        self.start = start  # the first campaign's reservations open a day before its live
        self.pop = Population(region)
        self.n = 0
        self.main, self.other = f"sim-{region.lower()}-1", f"sim-{region.lower()}-2"

    def uid(self, kind: str) -> str:
        self.n += 1
        return f"{self.region.lower()}-{kind}-{self.n}"

    def device(self) -> str:
        self.n += 1
        return f"dev-{self.region.lower()}-{self.n}-{self.rng.getrandbits(32):08x}"

    def home_ip(self) -> str:
        r = self.rng
        return f"{r.choice((23, 41, 78, 95, 151, 187))}.{r.randrange(256)}.{r.randrange(256)}.{r.randrange(1, 255)}"

    def cgnat_ip(self) -> str:
        # A carrier's NAT gateway: few addresses for very many subscribers.
        return f"100.{64 + self.rng.randrange(4)}.{self.rng.randrange(4)}.{self.rng.randrange(1, 8)}"

    def viewer_ip(self) -> str:
        return self.cgnat_ip() if self.rng.random() < CGNAT_SHARE[self.region] else self.home_ip()

    def email(self, name: str) -> str | None:
        roll = self.rng.random()
        if roll < 0.2:
            return None  # not every shop knows its viewers' emails
        if roll < 0.21:
            # An honest viewer who keeps a throwaway address for shops (1 in 100 of those with an email).
            return f"{name.replace('-', '.')}@{self.rng.choice(DISPOSABLE)}"
        return f"{name.replace('-', '.')}@{self.rng.choice(FREEMAIL)}"

    def moment(self, hours: float) -> datetime:
        return self.start + timedelta(hours=hours)

    def user(self, kind: str, email: str | None | bool = True) -> str:
        user = self.uid(kind)
        self.pop.users[user] = self.email(user) if email is True else (email or None)
        return user

    def act(self, campaign: str, user: str, at: datetime, device: str, ip: str, owner: str | None = None) -> None:
        self.pop.events.append({"campaign": campaign, "user": user, "at": at, "owner": owner, "device": device,
                                "ip": ip})

    def sharer(self, campaign: str, at: datetime, device: str | None = None, ip: str | None = None
               ) -> tuple[str, str, str]:
        user = self.user("sharer")
        device, ip = device or self.device(), ip or self.viewer_ip()
        self.pop.sharers[(campaign, user)] = None
        self.act(campaign, user, at, device, ip)
        return user, device, ip

    def refer(self, campaign: str, owner: str, referee: str, at: datetime, device: str, ip: str, *, fraud: bool,
              kind: str, shared: bool = False) -> None:
        self.act(campaign, referee, at, device, ip, owner)
        self.pop.referrals.append(Referral(campaign, referee, fraud, kind, shared))

    # -- honest viewers --------------------------------------------------------------------

    def friends(self) -> None:
        at = self.moment(self.rng.uniform(0, 20))
        owner, _dev, ip = self.sharer(self.main, at)
        for i in range(self.rng.randrange(2, 7)):
            friend_ip = self.viewer_ip()
            self.refer(self.main, owner, self.user("friend"), at + timedelta(minutes=5 + 7 * i), self.device(),
                       friend_ip, fraud=False, kind="friends", shared=friend_ip == ip)

    def carrier(self) -> None:
        """Sharer and friends on one carrier's NAT: often the very same address."""
        at = self.moment(self.rng.uniform(0, 20))
        ip = self.cgnat_ip()
        owner, _dev, _ip = self.sharer(self.main, at, ip=ip)
        for i in range(self.rng.randrange(2, 6)):
            self.refer(self.main, owner, self.user("mobile"), at + timedelta(minutes=3 + 4 * i), self.device(), ip,
                       fraud=False, kind="carrier_nat", shared=True)

    def family(self) -> None:
        at = self.moment(self.rng.uniform(0, 20))
        ip = self.home_ip()
        owner, device, _ip = self.sharer(self.main, at, ip=ip)
        for i in range(self.rng.randrange(1, 4)):
            self.refer(self.main, owner, self.user("family"), at + timedelta(minutes=10 + 15 * i), self.device(), ip,
                       fraud=False, kind="family", shared=True)

    def dormitory(self) -> None:
        """One busy address: residents watch all day, one of them shares with 6 to 12 others."""
        at = self.moment(self.rng.uniform(2, 18))
        ip = self.home_ip()
        for i in range(24):
            resident = self.user("resident")
            self.act(self.main, resident, at - timedelta(minutes=90 - 3 * i), self.device(), ip)
        owner, _dev, _ip = self.sharer(self.main, at, ip=ip)
        for i in range(self.rng.randrange(6, 13)):
            self.refer(self.main, owner, self.user("dorm"), at + timedelta(minutes=2 + 3 * i), self.device(), ip,
                       fraud=False, kind="dormitory", shared=True)

    def burst(self) -> None:
        """A popular viewer shares during the live: 12 to 20 friends join within a minute."""
        at = self.moment(self.rng.uniform(0, 20))
        owner, _dev, ip = self.sharer(self.main, at)
        for i in range(self.rng.randrange(12, 21)):
            friend_ip = self.viewer_ip()
            self.refer(self.main, owner, self.user("burst"), at + timedelta(seconds=10 + 2 * i), self.device(),
                       friend_ip, fraud=False, kind="honest_burst", shared=friend_ip == ip)

    def borrowed_phone(self) -> None:
        """A friend signs up on the sharer's own phone (honest, and indistinguishable from a sock puppet)."""
        at = self.moment(self.rng.uniform(0, 20))
        owner, device, ip = self.sharer(self.main, at)
        # Not counted as "behind a shared address": the device, not the address, is what is shared.
        self.refer(self.main, owner, self.user("borrow"), at + timedelta(minutes=2), device, ip, fraud=False,
                   kind="borrowed_phone")

    # -- farmers ---------------------------------------------------------------------------

    def device_pool(self) -> None:
        at = self.moment(self.rng.uniform(0, 20))
        mobile = self.rng.random() < CGNAT_SHARE[self.region]
        ip = self.cgnat_ip() if mobile else self.home_ip()
        pool = [self.device() for _ in range(self.rng.randrange(1, 4))]
        base = f"farm{self.n}x{self.rng.getrandbits(24):06x}"
        owner = self.user("farmer", f"{base}@gmail.com")
        self.pop.sharers[(self.main, owner)] = None
        self.act(self.main, owner, at, pool[0], ip)
        disposable = self.rng.random() < 0.4
        for i in range(self.rng.randrange(5, 16)):
            if disposable:
                email = f"{base}{i}@{self.rng.choice(DISPOSABLE)}"
            else:
                email = f"{base[:3]}.{base[3:]}+{i}@gmail.com" if i % 2 else f"{base}+{i}@googlemail.com"
            account = self.user("sock", email)
            self.refer(self.main, owner, account, at + timedelta(minutes=2 + 3 * i), pool[i % len(pool)], ip,
                       fraud=True, kind="device_pool")

    def velocity(self) -> None:
        """A script: fresh device ids and rotating proxy addresses, many accounts within a minute."""
        at = self.moment(self.rng.uniform(0, 20))
        owner, _dev, _ip = self.sharer(self.main, at)
        for i in range(self.rng.randrange(14, 26)):
            email = f"bot{self.n}{i}@{self.rng.choice(DISPOSABLE)}" if self.rng.random() < 0.7 else None
            self.refer(self.main, owner, self.user("bot", email or False), at + timedelta(seconds=30 + 2 * i),
                       self.device(), self.home_ip(), fraud=True, kind="velocity")

    def ring(self) -> None:
        """Two people refer each other: A brings B to the first live, B brings A to the second."""
        at = self.moment(self.rng.uniform(0, 20))
        a, dev_a, ip_a = self.sharer(self.main, at)
        b = self.user("ring")
        dev_b, ip_b = self.device(), self.viewer_ip()
        self.refer(self.main, a, b, at + timedelta(minutes=3), dev_b, ip_b, fraud=True, kind="ring")
        self.pop.sharers[(self.other, b)] = None
        self.act(self.other, b, at + timedelta(hours=1), dev_b, ip_b)
        self.refer(self.other, b, a, at + timedelta(hours=1, minutes=5), dev_a, ip_a, fraud=True, kind="ring")


def build(region: str, size: int, seed: int, start: datetime) -> Population:
    """`size` honest sharers' worth of viewers, and farmers in proportion, for one region."""
    rng = Random(f"{seed}-{region}")
    b = Builder(region, rng, start)
    honest = [b.friends] * 6 + [b.carrier] * 4 + [b.family] * 4 + [b.dormitory] + [b.burst] + [b.borrowed_phone]
    farmers = [b.device_pool] * 5 + [b.velocity] + [b.ring] * 2
    for _ in range(size):
        rng.choice(honest)()
    for _ in range(max(2, size // 6)):
        rng.choice(farmers)()
    return b.pop


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    shared: int = 0
    shared_flagged: int = 0

    def add(self, referral: Referral, flagged: bool) -> None:
        if referral.fraud:
            self.tp += flagged
            self.fn += not flagged
        else:
            self.fp += flagged
            self.tn += not flagged
            if referral.shared_address:
                self.shared += 1
                self.shared_flagged += flagged

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def shared_fp_rate(self) -> float:
        return self.shared_flagged / self.shared if self.shared else 0.0


def run(api: Api, populations: list[Population], start: datetime) -> dict[str, Score]:
    """Send every population through the API; score the server's verdicts per region."""
    for pop in populations:
        for campaign in (f"sim-{pop.region.lower()}-1", f"sim-{pop.region.lower()}-2"):
            api.call("POST", "/v1/campaigns", expect=(201,), json={
                "id": campaign, "title": f"Simulated live {campaign}", "market": MARKETS[pop.region],
                "starts_at": _iso(start + timedelta(days=3)), "ends_at": _iso(start + timedelta(days=3, hours=2)),
                "landing_url": "https://shop.example.com/live", "leaderboard": {"metric": "reservations"},
                "rules": [{"id": "invite", "type": "reservation_referral",
                           "referrer_reward": {"kind": "points", "points": 100},
                           "referee_reward": {"kind": "points", "points": 50}}]})
        for user, email in pop.users.items():
            api.call("PUT", f"/v1/users/{user}", expect=(200, 201),
                     json={"market": MARKETS[pop.region], **({"email": email} if email else {})})
        codes = {}
        for campaign, user in pop.sharers:
            codes[(campaign, user)] = api.call("POST", f"/v1/campaigns/{campaign}/invites", expect=(201,),
                                               json={"user_id": user}).json()["code"]
        events = []
        for n, ev in enumerate(sorted(pop.events, key=lambda e: e["at"])):
            body = {"id": f"sim-{pop.region}-{n}", "type": "reservation", "campaign_id": ev["campaign"],
                    "user_id": ev["user"], "at": _iso(ev["at"]), "device_id": ev["device"], "ip": ev["ip"]}
            if ev["owner"] is not None:
                body["ref"] = codes[(ev["campaign"], ev["owner"])]
            events.append(body)
        for i in range(0, len(events), 500):
            answer = api.call("POST", "/v1/events", json={"events": events[i:i + 500]}).json()
            if answer["rejected"]:
                raise DemoError(f"events were rejected: {answer['rejected'][:3]}")
    scores: dict[str, Score] = {}
    for pop in populations:
        flagged = set()
        for campaign in {r.campaign for r in pop.referrals}:
            offset = 0
            while True:
                page = api.call("GET", f"/v1/campaigns/{campaign}/rewards",
                                params={"limit": 5000, "offset": offset}).json()["rewards"]
                flagged |= {(campaign, r["user_id"]) for r in page
                            if r["role"] == "referee" and r["reason"] in ("review", "fraud")}
                if len(page) < 5000:
                    break
                offset += 5000
        score = scores[pop.region] = Score()
        for referral in pop.referrals:
            score.add(referral, (referral.campaign, referral.referee) in flagged)
    return scores


def kinds(populations: list[Population], api: Api) -> dict[str, tuple[int, int]]:
    """Flagged / total per kind of viewer, over all regions (read again from the ledger)."""
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for pop in populations:
        flagged = set()
        for campaign in {r.campaign for r in pop.referrals}:
            page = api.call("GET", f"/v1/campaigns/{campaign}/rewards", params={"limit": 10000}).json()["rewards"]
            flagged |= {(campaign, r["user_id"]) for r in page
                        if r["role"] == "referee" and r["reason"] in ("review", "fraud")}
        for r in pop.referrals:
            out[r.kind][0] += (r.campaign, r.referee) in flagged
            out[r.kind][1] += 1
    return {k: (v[0], v[1]) for k, v in out.items()}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def print_report(console: Console, scores: dict[str, Score], by_kind: dict[str, tuple[int, int]]) -> Score:
    table = Table(title="Fraud signals against ground truth (flagged = held for review or declined)")
    for column in ("region", "honest", "farmed", "TP", "FP", "FN", "precision", "recall",
                   "shared-address honest", "flagged", "FP rate"):
        table.add_column(column, justify="right" if column != "region" else "left")
    total = Score()
    for s in scores.values():
        for name in ("tp", "fp", "fn", "tn", "shared", "shared_flagged"):
            setattr(total, name, getattr(total, name) + getattr(s, name))
    for region, s in [*scores.items(), ("all", total)]:
        table.add_row(region, str(s.fp + s.tn), str(s.tp + s.fn), str(s.tp), str(s.fp), str(s.fn),
                      f"{s.precision:.3f}", f"{s.recall:.3f}", str(s.shared), str(s.shared_flagged),
                      f"{100 * s.shared_fp_rate:.2f}%")
    console.print(table)
    detail = Table(title="By kind of viewer")
    for column in ("kind", "label", "referrals", "flagged", "share"):
        detail.add_column(column)
    fraud_kinds = {"device_pool", "velocity", "ring"}
    for kind, (hit, n) in sorted(by_kind.items()):
        detail.add_row(kind, "farmer" if kind in fraud_kinds else "honest", str(n), str(hit), f"{100 * hit / n:.1f}%")
    console.print(detail)
    return total


def simulate_fraud(settings: Settings, *, size: int, seed: int, server_url: str | None, api_key: str | None,
                   console: Console) -> Score:
    """Run the simulation against `server_url` (with `api_key`), or a server of its own on SQLite."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=24)
    populations = [build(region, size, seed, start) for region in MARKETS]
    if server_url is not None:
        if api_key is None:
            raise DemoError("--api-key is needed with --server-url")
        api = Api(server_url, api_key)
        try:
            scores = run(api, populations, start)
            total = print_report(console, scores, kinds(populations, api))
        finally:
            api.close()
        return total
    with tempfile.TemporaryDirectory(prefix="liveloop-sim-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'sim.db'}"
        key = create_demo_tenant(url).key
        port = _any_free_port()
        server_settings = Settings(database_url=url, host="127.0.0.1")
        log_path = Path(tmp) / "server.log"
        proc = start_server(server_settings, port, log_path)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_healthy(proc, base, log_path)
            api = Api(base, key)
            try:
                scores = run(api, populations, start)
                total = print_report(console, scores, kinds(populations, api))
            finally:
                api.close()
        finally:
            stop_server(proc)
    return total
