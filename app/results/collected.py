"""What a collect task gathers for an access result, as the result reads it: the task kind, and
the data a system returned, kept encrypted on the task (workflow/tasks.py seals it)."""

from __future__ import annotations

import json
from typing import Any

from app.core.context import AppContext
from app.models import Task

COLLECT = "collect"  # gather a category's data from one system, for an access result


def data_aad(task_id: str) -> str:
    return f"task.data:{task_id}"


def read_data(ctx: AppContext, task: Task) -> list[dict[str, Any]]:
    """What a collect task returned, as a list of records (one record when it sent a dict)."""
    raw = ctx.keys.decrypt(task.data_enc, data_aad(task.id))
    if not raw:
        return []
    data = json.loads(raw)
    return data if isinstance(data, list) else [data]
