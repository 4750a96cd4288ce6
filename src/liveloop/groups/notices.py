"""`group_progress` on the streams of a group's leader and members: a subscriber of committed effects.

Each process sees a group's committed effects once per logged event (the one that wrote it when it
applies it, the others when they catch up with the log), so each tells the viewers connected to it.
"""

from __future__ import annotations

from collections.abc import Callable

from liveloop.engine.model import GroupChanged
from liveloop.events.committed import Committed
from liveloop.groups.views import progress_message

ViewerPublish = Callable[[tuple[str, str, str], dict], None]


class GroupNotices:
    def __init__(self, publish: ViewerPublish) -> None:
        self._publish = publish

    def __call__(self, committed: Committed) -> None:
        for live, effect in committed.effects:
            if type(effect) is not GroupChanged:
                continue
            message = progress_message(effect)
            # The leader, whoever paid by this change, and whoever a refund just removed.
            members = [m.user_id for m in effect.members] + [m.user_id for m in effect.group.members]
            for user in dict.fromkeys([effect.group.leader, *members]):
                self._publish((committed.tenant_id, live.state.config.id, user), dict(message))
