"""The audit trail: redaction, sinks, delivery, counters, and the auditor's report.

`IdleGuard(app, on_event=[...])` takes any of these sinks, several at once:

```python
from idleguard.audit import JsonLinesSink, LoggingSink, SqlSink

IdleGuard(app, secret_key=KEY, on_event=[JsonLinesSink("/var/log/app/sessions.jsonl"),
                                          SqlSink(engine), LoggingSink()])
```

[`SqlSink`][idleguard.audit.SqlSink] needs SQLAlchemy (`pip install "idleguard[sql]"`)
and is imported only when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .counters import CounterHook, CounterSet, count_event
from .redaction import DEFAULT_RULES, REDACTED, Redactor, Rule, printable
from .sinks import CallableSink, JsonLinesSink, LoggingSink, LossReporter, QueuedSink, Sink
from .trail import AuditTrail

if TYPE_CHECKING:
    from .sql import SqlSink

__all__ = [
    "DEFAULT_RULES",
    "REDACTED",
    "AuditTrail",
    "CallableSink",
    "CounterHook",
    "CounterSet",
    "JsonLinesSink",
    "LoggingSink",
    "LossReporter",
    "QueuedSink",
    "Redactor",
    "Rule",
    "Sink",
    "SqlSink",
    "count_event",
    "printable",
]


def __getattr__(name: str) -> Any:
    if name == "SqlSink":
        from .sql import SqlSink

        return SqlSink
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
