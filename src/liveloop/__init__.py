"""liveloop: a self-hostable referral engine for cross-border live shopping."""

__version__ = "0.1.0"
