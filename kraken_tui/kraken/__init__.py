"""The Kraken Futures wire boundary: auth, REST v3, WebSocket v1, charts; wire JSON -> domain models.

Only this package (and the paper exchange, which serves the same protocol) knows Kraken's JSON field
names. Reference: Kraken Futures docs, "REST API v3" and "WebSocket API v1" (docs.kraken.com).
"""
