"""A group buy as the API, the viewer streams and the webhooks show it."""

from __future__ import annotations

from liveloop.engine.model import GroupChanged
from liveloop.engine.social import Group, GroupMember
from liveloop.kit.times import iso

# The scheduled job that fails a group whose window has closed (groups/jobs.py); its slot is the group's id.
GROUP_EXPIRY = "group.expiry"


def group_channel(group_id: str) -> str:
    """The invite channel of a group's share link (the leader's code for this group)."""
    return f"group-{group_id}"


def group_read(group: Group, *, campaign_id: str, base_url: str, members: tuple[GroupMember, ...] | None = None,
               status: str | None = None) -> dict:
    """A group's id is also its share link's code: an invite code of the leader, on its own channel.
    `members` and `status` as they were at a change (GroupChanged), the group's own by default."""
    members = tuple(group.members) if members is None else members
    return {
        "id": group.id,
        "campaign_id": campaign_id,
        "rule_id": group.rule_id,
        "leader": group.leader,
        "code": group.id,
        "url": f"{base_url}/s/{group.id}",
        "members": [m.user_id for m in members],
        "orders": [{"user_id": m.user_id, "order_id": m.order_id, "at": iso(m.at)} for m in members],
        "group_size": group.group_size,
        "created_at": iso(group.created_at),
        "expires_at": iso(group.expires_at),
        "status": status or group.status,
        "ended_at": iso(group.ended_at) if group.ended_at is not None else None,
    }


def progress_message(change: GroupChanged) -> dict:
    """`group_progress` on a member's stream (SPEC section 13), as the group was at the change."""
    group = change.group
    return {"type": "group_progress", "group_id": group.id, "rule_id": group.rule_id, "leader": group.leader,
            "members": [m.user_id for m in change.members], "group_size": group.group_size,
            "expires_at": iso(group.expires_at), "status": change.status}
