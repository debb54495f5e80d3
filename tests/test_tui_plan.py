"""The plan as the console shows it: a summary first, one folded copy per distinct
command list, and nothing offered that another operation owns."""

from __future__ import annotations

from deploytui.engine.operations.plan import DeployPlan
from deploytui.tui.screens.plan import distinct_commands, plan_summary


def plan(**fields) -> DeployPlan:
    base = DeployPlan("demo", "staging", "20250101120000", "3f2a9c1" + "0" * 33,
                      "Add a health endpoint", "main", "release",
                      hosts_by_role={"web": ["web-1", "web-2", "web-3"]}, inspected=True)
    for key, value in fields.items():
        setattr(base, key, value)
    return base


def test_a_first_deploy_says_nothing_is_deployed_yet():
    lines = plan_summary(plan(current={"web-1": "", "web-2": "", "web-3": ""}))
    assert "now      nothing deployed yet" in lines


def test_a_locked_environment_offers_no_prune_of_the_holders_release():
    lines = plan_summary(plan(locks={"web-1": "ana@laptop since 10:00 (deploying main)"},
                              prune={"web-1": ["20250101115959 (unfinished)"]}))
    assert any(ln.startswith("LOCKED   web-1") for ln in lines)
    assert not any("20250101115959" in ln for ln in lines)
    assert "prune    not planned while the environment is locked" in lines


def test_commands_appear_once_per_distinct_list_not_once_per_host():
    commands = {h: ["git clone --mirror ...", "sh build.sh"] for h in ("web-1", "web-2")}
    commands["web-3"] = ["git clone --mirror ...", "sh build.sh", "sh migrate.sh"]
    groups = distinct_commands(plan(commands=commands))
    assert groups == [(["web-1", "web-2"], ["git clone --mirror ...", "sh build.sh"]),
                      (["web-3"], ["git clone --mirror ...", "sh build.sh", "sh migrate.sh"])]


def test_the_summary_holds_no_shell():
    lines = plan_summary(plan(commands={"web-1": ["sh build.sh"]}))
    assert not any("sh build.sh" in ln for ln in lines)


def test_the_summary_lists_the_rollout_stages_and_each_health_check():
    lines = plan_summary(plan(stages=["canary: web-1", "batch 1/1: web-2, web-3 (after 10s)"],
                              verify=["web: GET http://{address}:8000/up (within 30s)"],
                              on_unhealthy="rollback"))
    assert "stage    canary: web-1" in lines
    assert "stage    batch 1/1: web-2, web-3 (after 10s)" in lines
    assert ("verify   web: GET http://{address}:8000/up (within 30s); unhealthy: rollback"
            in lines)
