"""The paper exchange: a local Kraken Futures that speaks Kraken's REST v3 and WebSocket v1 protocol.

Matching, margin, fees, hourly funding and liquidation from mark price; market sources (live public
feed relay, recorded replay, synthetic). Reference: docs/kraken-futures-api.md §4, §7-§10.
Must not import: textual, the engine.
"""
