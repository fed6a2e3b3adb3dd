"""A provider's model list cached as JSON, for the `catalog:<provider>` doit task.

The task graph decides freshness (a TTL); these functions only fetch, write atomically and
read back. The file never holds a key.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

from swebench_tasks.files import write_atomic
from swebench_tasks.providers import ModelInfo, OnWait, get_provider


def fetch_catalog(provider: str, key: str | None, path: Path | str, on_wait: OnWait | None = None) -> list[ModelInfo]:
    """List the provider's models live and write them to `path` (atomically)."""
    from swebench_tasks.keys import key_fix

    client = get_provider(provider, key=key, on_wait=on_wait, key_fix=key_fix)
    models = client.list_models()
    doc = {
        "provider": provider,
        "base_url": client.base_url,
        "fetched_at": time.time(),
        "curated": bool(getattr(client, "curated", False)),
        "models": [asdict(m) for m in models],
    }
    write_atomic(Path(path), json.dumps(doc, indent=1))
    return models


def read_catalog(path: Path | str) -> list[ModelInfo] | None:
    """The cached models, or None when the file is missing or unreadable (refetch it)."""
    doc = _load(path)
    if doc is None:
        return None
    try:
        return [ModelInfo(**m) for m in doc["models"]]
    except (KeyError, TypeError):
        return None


def catalog_age(path: Path | str) -> float | None:
    """Seconds since the cache was fetched (for a TTL check), None if there is no usable cache."""
    doc = _load(path)
    fetched = doc.get("fetched_at") if doc else None
    return max(time.time() - float(fetched), 0.0) if isinstance(fetched, (int, float)) else None


def _load(path: Path | str) -> dict | None:
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None
