"""The room section of a campaign report: presence, watch time, and presences closed without a leave."""

from __future__ import annotations

from liveloop.engine.state import CampaignState


def room_report(state: CampaignState, now: int) -> dict:
    totals = state.room_totals
    ended = now > state.config.ends_at
    # Once the campaign has ended, a presence still open was closed by the room's end, and its time
    # until then was watched. While it runs, an open presence counts up to its latest evidence.
    still_open = len(state.present)
    at_room_end = totals.ends + (still_open if ended else 0)
    watched = totals.watched
    if ended:
        for user_id in state.present:
            presence = state.presence_of(user_id)
            if presence is not None:
                watched += presence.watched_until(state.config.ends_at, state.window) - presence.watched
    return {
        "viewers": totals.viewers,
        "present": 0 if ended else still_open,
        "watch_seconds": watched // 1000,
        "min_watch_seconds": state.config.min_watch_ms // 1000,
        "closed_without_leave": {
            "timeout": totals.timeouts,
            "room_end": at_room_end,
            "total": totals.timeouts + at_room_end,
        },
    }
