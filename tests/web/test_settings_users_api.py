"""Settings (per household, stored in the database) and user management over HTTP."""

from __future__ import annotations

from hearthcam.store.settings import SettingsStore
from hearthcam.types import Verdict
from tests.support.enrolment import enrol
from tests.support.world import PASSWORD, World
from tests.web.conftest import ClientFor

SETTINGS = {"mode": "home", "retention": {"threat": 72, "pet": 6, "vehicle": 12, "motion": 1.5}}
# The config's defaults: threat at home; threat and vehicle away; anywhere, any time.
CONFIG_RULES = {
    "home": {"verdicts": ["threat"], "zones": [], "cameras": [], "schedule": []},
    "away": {"verdicts": ["threat", "vehicle"], "zones": [], "cameras": [], "schedule": []},
}
NIGHT = {"start": "22:00", "end": "06:30", "days": ["mon", "tue", "wed", "thu", "fri"]}


def test_settings_default_to_the_config_and_are_stored_per_household(
    world: World, client_for: ClientFor
) -> None:
    alice, bob = client_for("alice"), client_for("bob")
    defaults = alice.get("/api/settings").json()
    assert defaults == {
        "mode": world.config.alerts.mode,
        "retention": {"threat": 24.0, "pet": 24.0, "vehicle": 24.0, "motion": 24.0},
        "alerts": CONFIG_RULES,
    }
    saved = alice.put("/api/settings", json=SETTINGS)  # no "alerts": the stored rules stay
    assert saved.status_code == 200
    assert saved.json() == {**SETTINGS, "alerts": CONFIG_RULES}
    assert alice.get("/api/settings").json() == {**SETTINGS, "alerts": CONFIG_RULES}
    assert bob.get("/api/settings").json() == defaults  # B's household is untouched
    # The runtime reads them from the database, not from the web app.
    stored = SettingsStore(world.store).household(world.household_a, world.config)
    assert stored.mode == "home"
    assert stored.retention[Verdict.MOTION] == 1.5


def test_alert_rules_are_stored_per_mode_and_the_runtime_sees_the_one_in_force(
    world: World, client_for: ClientFor
) -> None:
    alice = client_for("alice")
    rules = {
        "home": {"verdicts": ["threat", "threat"], "zones": ["porch"], "schedule": [NIGHT]},
        "away": {"verdicts": ["threat", "pet", "vehicle"]},
    }
    saved = alice.put("/api/settings", json={**SETTINGS, "alerts": rules})
    assert saved.status_code == 200, saved.text
    assert saved.json()["alerts"] == {
        "home": {"verdicts": ["threat"], "zones": ["porch"], "cameras": [], "schedule": [NIGHT]},
        "away": {
            "verdicts": ["threat", "pet", "vehicle"],
            "zones": [],
            "cameras": [],
            "schedule": [],
        },
    }
    stored = SettingsStore(world.store).household(world.household_a, world.config)
    rule = stored.rule()  # SETTINGS is home mode
    assert rule is not None
    assert rule.zones == ["porch"]
    assert [(s.start, s.end, s.days) for s in rule.schedule] == [
        ("22:00", "06:30", ["mon", "tue", "wed", "thu", "fri"])
    ]
    away = alice.put("/api/settings", json={**SETTINGS, "mode": "away"}).json()
    assert away["alerts"]["away"]["verdicts"] == ["threat", "pet", "vehicle"]  # rules kept
    stored = SettingsStore(world.store).household(world.household_a, world.config)
    assert stored.rule() == stored.alerts["away"]


def test_a_stored_retention_out_of_bounds_falls_back_to_the_config(world: World) -> None:
    # A value saved before the bounds existed must not drive the retention sweep.
    store = SettingsStore(world.store)
    store.put(f"household/{world.household_a}", {**SETTINGS, "retention": {"pet": 5e-324}}, 0.0)
    hours = store.household(world.household_a, world.config).retention
    assert hours[Verdict.PET] == world.config.retention.events[Verdict.PET]


def test_settings_are_validated(client_for: ClientFor) -> None:
    alice = client_for("alice")
    bad_bodies = [
        {**SETTINGS, "mode": "party"},
        {**SETTINGS, "retention": {**SETTINGS["retention"], "pet": 0}},  # type: ignore[dict-item]
        {**SETTINGS, "retention": {"threat": 1}},
        # The fuzzer's denormal: "> 0" let it through and the next sweep emptied the household.
        {**SETTINGS, "retention": {**SETTINGS["retention"], "pet": 5e-324}},  # type: ignore[dict-item]
        {**SETTINGS, "retention": {**SETTINGS["retention"], "pet": 0.99}},  # type: ignore[dict-item]
        {**SETTINGS, "retention": {**SETTINGS["retention"], "pet": 24 * 366}},  # type: ignore[dict-item]
        {**SETTINGS, "extra": 1},
        {**SETTINGS, "alerts": {"home": {"verdicts": ["burglar"]}, "away": {"verdicts": []}}},
        {**SETTINGS, "alerts": {"home": {"verdicts": []}}},
        {
            **SETTINGS,
            "alerts": {
                **CONFIG_RULES,
                "home": {"verdicts": [], "schedule": [{"start": "25:00", "end": "06:00"}]},
            },
        },
        {
            **SETTINGS,
            "alerts": {
                **CONFIG_RULES,
                "away": {
                    "verdicts": [],
                    "schedule": [{"start": "22:00", "end": "06:00", "days": []}],
                },
            },
        },
        {**SETTINGS, "alerts": {**CONFIG_RULES, "away": {"verdicts": [], "when": "always"}}},
    ]
    for body in bad_bodies:
        assert alice.put("/api/settings", json=body).status_code == 422, body


def test_owner_manages_only_their_members(world: World, client_for: ClientFor) -> None:
    alice = client_for("alice")
    listed = alice.get("/api/users").json()
    assert {(u["username"], u["role"]) for u in listed} == {("alice", "owner"), ("mia", "member")}
    new = alice.post("/api/users", json={"username": "kid", "role": "member"})
    assert new.status_code == 201
    # The new member sets their password through the link and sees the household's cameras.
    kid = enrol(world, client_for(""), new.json()["link"], PASSWORD)
    assert [c["name"] for c in kid.get("/api/cameras").json()] == ["back", "front"]
    for role in ("admin", "annotator", "owner"):
        body = {"username": f"x{role}", "role": role}
        assert alice.post("/api/users", json=body).status_code == 403, role
    taken = alice.post("/api/users", json={"username": "KID", "role": "member"})
    assert taken.status_code == 409
    # A name taken in another household answers exactly the same: nothing says whose.
    answers = {
        name: alice.post("/api/users", json={"username": name, "role": "member"})
        for name in ("KID", "mia", "Bob", "ada", "ANN")
    }
    assert {a.status_code for a in answers.values()} == {409}
    assert len({a.text for a in answers.values()}) == 1
    detail = answers["Bob"].json()["detail"].lower()
    assert "bob" not in detail
    assert "home" not in detail
    # The admin still sees every account, with its role.
    everyone = {u["username"] for u in client_for("ada").get("/api/users").json()}
    assert {"alice", "bob", "mia", "kid"} <= everyone
    assert alice.delete(f"/api/users/{world.user_ids['bob']}").status_code == 404
    assert alice.delete(f"/api/users/{world.user_ids['alice']}").status_code == 403
    assert alice.delete(f"/api/users/{new.json()['id']}").status_code == 204
    assert kid.get("/api/me").status_code == 401  # their sessions ended with them
    assert alice.delete("/api/users/999999").status_code == 404


def test_admin_manages_accounts_but_sees_no_media(world: World, client_for: ClientFor) -> None:
    ada = client_for("ada")
    names = {u["username"] for u in ada.get("/api/users").json()}
    assert names == {"alice", "bob", "mia", "ada", "ann"}
    created = ada.post("/api/users", json={"username": "rev", "role": "annotator"})
    assert created.status_code == 201
    member = ada.post("/api/users", json={"username": "m2", "role": "member"})
    assert member.status_code == 403
    assert ada.delete(f"/api/users/{created.json()['id']}").status_code == 204
    assert ada.delete(f"/api/users/{world.user_ids['ada']}").status_code == 409
    for path in ("/api/cameras", "/api/events", "/api/settings", "/api/cameras/front/snapshot"):
        assert ada.get(path).status_code == 403, path
