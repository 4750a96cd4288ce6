"""The liveloop command: serve, tenant create, operator add, migrate, demo, simulate fraud, policy check, draw
verify."""

from __future__ import annotations

import gc
import json
from pathlib import Path
from typing import Annotated

import typer

from liveloop.settings import Settings

app = typer.Typer(help="liveloop: a self-hostable referral engine for cross-border live shopping.",
                  no_args_is_help=True, add_completion=False)
tenant_app = typer.Typer(help="Manage tenants (merchants) and their API keys.", no_args_is_help=True)
app.add_typer(tenant_app, name="tenant")
policy_app = typer.Typer(help="Market policy (SPEC section 6).", no_args_is_help=True)
app.add_typer(policy_app, name="policy")
draw_app = typer.Typer(help="Draws: check a run independently (docs/draws.md).", no_args_is_help=True)
app.add_typer(draw_app, name="draw")
operator_app = typer.Typer(help="Operator logins for the web console (/console).", no_args_is_help=True)
app.add_typer(operator_app, name="operator")
simulate_app = typer.Typer(help="Simulations measured against ground truth.", no_args_is_help=True)
app.add_typer(simulate_app, name="simulate")

DatabaseOpt = Annotated[str | None, typer.Option("--database-url", help="or LIVELOOP_DATABASE_URL")]


def _settings(database_url: str | None = None, **overrides) -> Settings:
    values = {k: v for k, v in overrides.items() if v is not None}
    if database_url:
        values["database_url"] = database_url
    settings = Settings(**values)
    _ensure_sqlite_dir(settings.database_url)
    return settings


def _ensure_sqlite_dir(url: str) -> None:
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)


@app.command()
def migrate(database_url: DatabaseOpt = None) -> None:
    """Bring the database schema up to date (Alembic)."""
    from liveloop.kit.db.migrate import upgrade

    settings = _settings(database_url)
    upgrade(settings.database_url)
    typer.echo(f"database is up to date: {_redact(settings.database_url)}")


@app.command()
def serve(
    database_url: DatabaseOpt = None,
    host: Annotated[str | None, typer.Option(help="or LIVELOOP_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="or LIVELOOP_PORT")] = None,
    public_url: Annotated[str | None, typer.Option(help="address viewers reach; or LIVELOOP_PUBLIC_URL")] = None,
    migrate_db: Annotated[bool | None, typer.Option(
        "--migrate/--no-migrate", help="migrate before serving; or LIVELOOP_MIGRATE_ON_START (default: yes)")] = None,
    access_log: Annotated[bool | None, typer.Option(
        help="one log line per request, at level info; or LIVELOOP_ACCESS_LOG (default: yes)")] = None,
    metrics_port: Annotated[int | None, typer.Option(
        help="serve GET /metrics on this port of its own, to anyone who reaches it; or LIVELOOP_METRICS_PORT")] = None,
) -> None:
    """Run the HTTP service."""
    from liveloop.app import create_app
    from liveloop.kit.db.inuse import sqlite_lock
    from liveloop.kit.db.migrate import upgrade
    from liveloop.ops import proxies, server
    from liveloop.ops.logging import configure

    settings = _settings(database_url, host=host, port=port, public_url=public_url, metrics_port=metrics_port,
                         access_log=access_log)
    try:
        configure(settings.log_format, settings.log_level)
        proxies.parse(settings.trusted_proxies)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    # Held until the process ends: `liveloop demo` never deletes a file a server holds.
    lock = sqlite_lock(settings.database_url)
    if lock is not None:
        lock.shared()
    if settings.migrate_on_start if migrate_db is None else migrate_db:
        upgrade(settings.database_url)
    app = create_app(settings)
    # Campaign state is millions of long-lived objects: the default young-generation threshold
    # (700) makes the collector run constantly, while a very high one makes each pass long enough
    # to show in the share link's p99 (measured: 50,000 gave 15-20 ms pauses, 5,000 about 9 ms).
    gc.set_threshold(5_000, 20, 100)
    gc.freeze()  # what is loaded by now lives for the whole process: never scan it again
    server.serve(app, settings)


@tenant_app.command("create")
def tenant_create(
    name: str,
    allowed_host: Annotated[list[str] | None, typer.Option(
        help="host a landing URL may point to (repeatable); any https host when none is given")] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Create a tenant; its new API key is the last line printed."""
    from liveloop.kit import clock
    from liveloop.kit.db.dialect import create_engine
    from liveloop.kit.db.migrate import upgrade
    from liveloop.tenants.service import create_tenant

    settings = _settings(database_url)
    upgrade(settings.database_url)
    engine = create_engine(settings.database_url)
    try:
        with engine.begin() as conn:
            tenant, key = create_tenant(conn, name=name, allowed_hosts=allowed_host or [], now=clock.now_ms())
    finally:
        engine.dispose()
    typer.echo(f"tenant {tenant.id} ({name}) created; allowed hosts: {json.dumps(list(tenant.allowed_hosts))}")
    typer.echo("API key (shown once, stored only as a hash):")
    typer.echo(key)


@operator_app.command("add")
def operator_add(
    tenant: Annotated[str, typer.Argument(help="the tenant's id (tn_...)")],
    email: Annotated[str, typer.Argument(help="the operator's email, their login")],
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="read the password from standard input instead of generating one")] = False,
    database_url: DatabaseOpt = None,
) -> None:
    """Give an operator a console login; a generated password is printed once (stored as an argon2 hash)."""
    import sys

    from liveloop.console.operators import add_operator, new_password
    from liveloop.kit import clock
    from liveloop.kit.db.dialect import create_engine
    from liveloop.kit.db.migrate import upgrade
    from liveloop.kit.errors import LiveloopError

    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else new_password()
    settings = _settings(database_url)
    upgrade(settings.database_url)
    engine = create_engine(settings.database_url)
    try:
        with engine.begin() as conn:
            operator = add_operator(conn, tenant_id=tenant, email=email, password=password, now=clock.now_ms())
    except LiveloopError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    typer.echo(f"operator {operator.email} can log in at {settings.base_url}/console for tenant {tenant}")
    if not password_stdin:
        typer.echo("password (shown once, stored only as a hash):")
        typer.echo(password)


@app.command()
def demo(
    database_url: DatabaseOpt = None,
    port: Annotated[int, typer.Option(help="port of the demo server")] = 8000,
    viewers: Annotated[int, typer.Option(help="size of the simulated audience")] = 3000,
    keep_running: Annotated[bool, typer.Option("--keep-running/--exit", help="leave the server up")] = True,
) -> None:
    """Start a server on SQLite, create a demo tenant and live campaign, drive an audience through it."""
    from liveloop_demo import run_demo

    settings = _settings(database_url or "sqlite:///var/demo.db", port=port)
    raise typer.Exit(run_demo(settings, viewers=viewers, keep_running=keep_running))


@simulate_app.command("fraud")
def simulate_fraud(
    size: Annotated[int, typer.Option(help="honest sharers per market region (farmers in proportion)")] = 300,
    seed: Annotated[int, typer.Option(help="the population's random seed")] = 20270301,
    server_url: Annotated[str | None, typer.Option(help="a running server to use (default: one of its own)")] = None,
    api_key: Annotated[str | None, typer.Option(help="an API key of that server (a fresh tenant)")] = None,
) -> None:
    """Labelled honest viewers and reward farmers through the HTTP API: precision, recall and the
    false-positive rate of honest viewers behind shared addresses, per market region (docs/fraud.md)."""
    from rich.console import Console

    from liveloop_demo import DemoError
    from liveloop_demo.fraud import simulate_fraud as run_simulation

    console = Console()
    try:
        total = run_simulation(_settings(), size=size, seed=seed, server_url=server_url, api_key=api_key,
                               console=console)
    except DemoError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None
    console.print(f"precision {total.precision:.3f}  recall {total.recall:.3f}  "
                  f"shared-address false positives {100 * total.shared_fp_rate:.2f}%")


@policy_app.command("check")
def policy_check(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True,
                                         help="a campaign as POST /v1/campaigns takes it (JSON)")],
    as_json: Annotated[bool, typer.Option("--json", help="print the findings as JSON")] = False,
) -> None:
    """Check a campaign against its market's policy; prints every error, warning and waived default with
    its basis (law or default) and source, exits 1 on an error. Without a server, prizes are valued
    only in the campaign's own currency (a tenant's FX rates live in its database)."""
    from pydantic import ValidationError

    from liveloop.campaigns.schemas import CampaignCreate
    from liveloop.kit.errors import NotFound
    from liveloop.markets import policy
    from liveloop.markets.catalogue import get_market

    try:
        body = CampaignCreate.model_validate_json(file.read_bytes())
        market = get_market(body.market)
    except ValidationError as exc:
        _print_findings([_problem(".".join(str(p) for p in e["loc"]) or None, e["msg"]) for e in exc.errors()],
                        as_json)
        raise typer.Exit(1) from None
    except NotFound as exc:
        _print_findings([_problem("market", exc.message)], as_json)
        raise typer.Exit(1) from None
    findings = policy.check(body.model_dump(mode="json", exclude_none=True), market)
    _print_findings([{"severity": f.severity, **f.to_dict()} for f in findings], as_json)
    if any(f.severity == policy.ERROR for f in findings):
        raise typer.Exit(1)


@draw_app.command("verify")
def draw_verify(
    seed: Annotated[str | None, typer.Option(help="the revealed seed (with --entrants and --winners)")] = None,
    entrants: Annotated[Path | None, typer.Option(exists=True, dir_okay=False, readable=True,
                                                  help="entrant list: one user id per line, or a JSON list")] = None,
    winners: Annotated[int | None, typer.Option(min=0, help="how many winners the draw has")] = None,
    seed_hash: Annotated[str | None, typer.Option(help="the published commitment, checked against --seed")] = None,
    url: Annotated[str | None, typer.Option(help="a liveloop server: fetch the run from its API instead")] = None,
    api_key: Annotated[str | None, typer.Option(envvar="LIVELOOP_API_KEY", help="the tenant's API key")] = None,
    campaign: Annotated[str | None, typer.Option(help="campaign id (with --url)")] = None,
    rule: Annotated[str | None, typer.Option(help="draw rule id (with --url)")] = None,
    period: Annotated[str | None, typer.Option(help="period name (with --url; default campaign)")] = None,
) -> None:
    """Recompute a draw's winners from its seed and entrants, independently of the server's code.

    Offline: --seed S --entrants FILE --winners N prints the winners in draw order. Online: --url
    --api-key --campaign --rule [--period] fetches the run and checks the seed against its
    commitment, the entrant list against its hash, and the winners; exits 1 on any mismatch.
    """
    from liveloop.draws import verify

    if url is not None:
        if not (api_key and campaign and rule):
            raise typer.BadParameter("--url needs --api-key (or LIVELOOP_API_KEY), --campaign and --rule")
        try:
            recomputed, checks = verify.check_remote(url, api_key, campaign, rule, period)
        except ValueError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        for user_id in recomputed:
            typer.echo(user_id)
        for name, ok, detail in checks:
            typer.echo(f"{'ok' if ok else 'MISMATCH'}: {name} ({detail})", err=True)
        if not all(ok for _name, ok, _detail in checks):
            raise typer.Exit(1)
        return
    if seed is None or entrants is None or winners is None:
        raise typer.BadParameter("give --seed, --entrants and --winners, or --url with --campaign and --rule")
    try:
        listed = verify.read_entrants(entrants.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    for user_id in verify.recompute_winners(seed, listed, winners):
        typer.echo(user_id)
    typer.echo(f"entrants: {len(set(listed))}, entrants_hash: {verify.list_hash(listed)}", err=True)
    if seed_hash is not None:
        ok = verify.commitment(seed) == seed_hash.strip().lower()
        typer.echo(f"{'ok' if ok else 'MISMATCH'}: seed_hash == sha256(seed)", err=True)
        if not ok:
            raise typer.Exit(1)


def _problem(field: str | None, message: str) -> dict:
    return {"severity": "error", "code": "invalid", "message": message, "field": field, "basis": None,
            "source": None, "words": []}


def _print_findings(findings: list[dict], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(findings, ensure_ascii=False, indent=2))
        return
    for f in findings:
        typer.echo(f"{f['severity']}: {f['code']} at {f['field'] or '(campaign)'}: {f['message']}")
        if f["source"]:
            typer.echo(f"    basis: {f['basis']}, source: {f['source']}")
    count = {severity: sum(1 for f in findings if f["severity"] == severity) for severity in ("error", "warning",
                                                                                              "waived")}
    typer.echo(f"{count['error']} error(s), {count['warning']} warning(s), {count['waived']} waived")


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def main() -> None:
    app()
