"""Operating liveloop: metrics, logs, readiness, graceful shutdown, client addresses behind proxies.

Nothing here imports the rest of liveloop (ops/api.py, the routes, aside): every layer, kit included,
may record a metric or name the tenant of the request it serves. docs/operations.md is the guide.
"""
