"""Notifications: the engine's serious alerts sent to chat, phone and e-mail channels through apprise.

Modules: ``rules`` (which ``EngineEvent`` becomes a notification, and its text), ``secrets`` (channel URLs from
the environment or a 0600 file; masking them in any text), ``throttle`` (dedupe window and per-minute cap),
``sender`` (``Notifier``: the engine listener, a bounded queue and a background sender thread with retries,
and ``NotifyView`` status), ``summary`` (the optional daily summary text).
Must not import: textual, the paper exchange, the UI. The engine never imports this package: the runtime
subscribes a ``Notifier`` as an engine listener (``engine.facade.EngineControl.add_listener``).
"""
