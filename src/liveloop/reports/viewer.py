"""What the viewer widget shows besides the stream's news: the viewer's standing now (SPEC 15).

The widget reads it with its viewer token when it opens and again after its own messages arrive:
rank and score, the next milestone and how far there is to go, rewards, draw entries, and the apps
of the market's share sheet. Reward texts are in the viewer's words, as the stream's are.
"""

from __future__ import annotations

from liveloop.engine.state import CampaignState
from liveloop.i18n import format as fmt
from liveloop.markets.sharing import share_apps
from liveloop.reports.views import progress


def viewer_progress(state: CampaignState, *, market: str, user_id: str, tag: str, now: int) -> dict:
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
        "share_apps": list(share_apps(market)), "locale": tag,
    }
