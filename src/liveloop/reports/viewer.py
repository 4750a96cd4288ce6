"""What the viewer widget shows besides the stream's news: the viewer's standing now (SPEC 15).

The widget reads it with its viewer token when it opens and again after its own messages arrive:
rank and score, the next milestone and how far there is to go, rewards, draw entries, the open group
buys the viewer leads or has joined (with their share links), and the apps of the market's share
sheet. Reward texts are in the viewer's words, as the stream's are.
"""

from __future__ import annotations

from liveloop.engine.state import CampaignState
from liveloop.i18n import format as fmt
from liveloop.kit.times import iso
from liveloop.markets.sharing import share_apps
from liveloop.reports.views import progress


def viewer_groups(state: CampaignState, user_id: str, *, base_url: str) -> list[dict]:
    """The open groups the viewer leads or has paid into, in `group_progress`'s shape plus the share link.
    Only open groups are walked (a few per live at most), never the campaign's finished ones."""
    social = state.social
    found = []
    for gid in social.open_groups.values():
        group = social.groups[gid]
        members = [m.user_id for m in group.members]
        if group.leader != user_id and user_id not in members:
            continue
        found.append({"group_id": group.id, "rule_id": group.rule_id, "leader": group.leader, "members": members,
                      "group_size": group.group_size, "expires_at": iso(group.expires_at), "status": group.status,
                      "url": f"{base_url}/s/{group.id}"})
    return sorted(found, key=lambda g: (g["expires_at"], g["group_id"]))


def viewer_progress(state: CampaignState, *, market: str, user_id: str, tag: str, now: int, base_url: str) -> dict:
    found = progress(state, user_id, now)
    currency = state.config.currency
    milestone = found["next_milestone"]
    if milestone is not None:
        at, remaining = milestone["at"], milestone["remaining"]
        milestone = {**milestone, "reward_text": fmt.reward({**milestone["reward"], "currency": currency}, tag),
                     "done": (float(at) - float(remaining)) / float(at) if float(at) else 1.0}
    rewards = [{"id": r["id"], "status": r["status"], "text": fmt.reward(r, tag)}
               for r in found["rewards"] if r["status"] in ("available", "pending")]
    return {
        "user_id": user_id, "metric": state.config.leaderboard_metric, "score": found["score"],
        "rank": found["rank"], "next_milestone": milestone, "rewards": rewards,
        "draws": [{"rule_id": d["rule_id"], "period": d["period"], "entered": d["eligible"]} for d in found["draws"]],
        "groups": viewer_groups(state, user_id, base_url=base_url),
        "share_apps": list(share_apps(market)), "locale": tag,
    }
