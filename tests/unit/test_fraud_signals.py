"""The fraud signals over in-memory state (fraud/signals.py) and email normalization (users/emails.py)."""

from __future__ import annotations

from liveloop.engine.model import signal_codes
from liveloop.fraud.signals import DAY_MS, TenantSignals, risk_of, to_mask
from liveloop.users.emails import normalize


def codes(signals: TenantSignals, referee: str, referrer: str, at: int = 0, campaign: str = "c", per_minute: int = 10
          ) -> list[str]:
    return [s.code for s in signals.assess(campaign_id=campaign, referee=referee, referrer=referrer, at=at,
                                           velocity_per_minute=per_minute)]


def test_emails_are_normalized_before_hashing():
    assert normalize("Ann.Lee+promo@GoogleMail.com")[0] == normalize("annlee@gmail.com")[0]
    assert normalize("ann.lee+x@example.com")[0] == normalize("Ann.Lee@example.com")[0]
    assert normalize("ann.lee@example.com")[0] != normalize("annlee@example.com")[0]  # dots matter outside gmail
    assert normalize("a@Example.COM")[1] == "example.com"


def test_an_address_is_shared_behind_carrier_nat_or_once_20_devices_used_it_within_a_day():
    s = TenantSignals()
    s.observe("r", "d-r", "100.64.3.4", 0)
    s.observe("f", "d-f", "100.64.3.4", 0)
    assert codes(s, "f", "r") == []
    for i in range(18):
        s.observe(f"x{i}", f"d{i}", "198.51.100.1", 0)
    s.observe("r2", "d-r2", "198.51.100.1", 0)
    s.observe("f2", "d-f2", "198.51.100.1", 0)  # the 20th device
    assert codes(s, "f2", "r2", at=DAY_MS - 1) == []
    assert codes(s, "f2", "r2", at=DAY_MS + 1) == ["same_ip"]  # a day later the crowd has gone


def test_velocity_counts_by_the_events_time_whatever_their_order():
    s = TenantSignals()
    times = [50_000, 10_000, 40_000, 30_000, 20_000, 59_000]
    found = [codes(s, f"f{i}", "r", at=at, per_minute=3) for i, at in enumerate(times)]
    assert found[:3] == [[], [], []]
    # The fourth (at 30 s) completes a minute of four (10 s .. 50 s); later ones fall in it too.
    assert found[3:] == [["velocity"]] * 3
    assert codes(s, "late", "r", at=200_000, per_minute=3) == []


def test_rings_direct_and_through_one_other_user_in_any_campaign():
    s = TenantSignals()
    assert codes(s, "b", "a", campaign="one") == []
    assert codes(s, "a", "b", campaign="two") == ["ring"]
    assert codes(s, "y", "x") == [] and codes(s, "z", "y") == []
    assert codes(s, "x", "z") == ["ring"]  # x -> y -> z, then z refers x


def test_device_signals_and_the_mask_the_log_carries():
    s = TenantSignals()
    s.observe("r", "phone", None, 0)
    s.observe("f1", "phone", None, 0)
    assert codes(s, "f1", "r") == ["same_device"]
    s.observe("f2", "phone", None, 0)
    found = codes(s, "f2", "r")
    assert found == ["same_device", "device_farm"] and risk_of(found) == 100
    assert signal_codes(to_mask(found)) == ("same_device", "device_farm")


def test_email_alias_of_another_referee_and_disposable_domains():
    s = TenantSignals()
    s.emails["f1"] = normalize("sam@gmail.com")
    s.emails["f2"] = normalize("s.a.m+2@gmail.com")
    s.emails["f3"] = normalize("x@mailinator.com")
    assert codes(s, "f1", "r") == []
    assert codes(s, "f2", "r") == ["email_alias"]
    assert codes(s, "f3", "r") == ["disposable_email"]
