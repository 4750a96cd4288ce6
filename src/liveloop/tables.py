"""Imports every domain's tables so the MetaData is complete (for Alembic and tests)."""

from liveloop.audit.models import audit_log
from liveloop.campaigns.models import campaign_follow_ups, campaign_versions, campaigns
from liveloop.circles.models import circles
from liveloop.clips.models import clips
from liveloop.console.models import login_failures, operator_sessions, operators
from liveloop.draws.models import draw_entries, draw_results
from liveloop.events.models import campaign_snapshots, events
from liveloop.flash.models import flash_deals, flash_deliveries
from liveloop.fraud.models import fraud_blocklist, fraud_reviews
from liveloop.fx.models import fx_rates
from liveloop.integrations.models import integrations
from liveloop.invites.models import invites
from liveloop.kit.db.base import metadata
from liveloop.privacy.models import erasures
from liveloop.questions.models import questions
from liveloop.rewards.models import reward_changes, rewards
from liveloop.rooms.models import room_users
from liveloop.scheduler.models import scheduled_job_recipients, scheduled_jobs
from liveloop.segments.models import segment_members, segments
from liveloop.tenants.models import api_keys, server_secrets, tenants
from liveloop.users.models import users
from liveloop.webhooks.models import webhook_attempts, webhook_deliveries, webhook_endpoints, webhook_messages

__all__ = [
    "api_keys",
    "audit_log",
    "campaign_follow_ups",
    "campaign_snapshots",
    "campaign_versions",
    "campaigns",
    "circles",
    "clips",
    "draw_entries",
    "draw_results",
    "erasures",
    "events",
    "flash_deals",
    "flash_deliveries",
    "fraud_blocklist",
    "fraud_reviews",
    "fx_rates",
    "integrations",
    "invites",
    "login_failures",
    "metadata",
    "operator_sessions",
    "operators",
    "questions",
    "reward_changes",
    "rewards",
    "room_users",
    "scheduled_job_recipients",
    "scheduled_jobs",
    "segment_members",
    "segments",
    "server_secrets",
    "tenants",
    "users",
    "webhook_attempts",
    "webhook_deliveries",
    "webhook_endpoints",
    "webhook_messages",
]
