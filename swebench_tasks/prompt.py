"""The generation prompt, in the style of SWE-bench's own (issue, numbered code, patch).

Line numbers let the model write hunk headers that are close to right; the example
patch shows the exact format `git apply` expects; one ```diff block makes the
answer easy to find. PROMPT_VERSION is part of each generation task's up-to-date
check, so bump it on any change to the text below: old patches then count as stale.
"""

from __future__ import annotations

from swebench_tasks.errors import UsageError
from swebench_tasks.providers import Message
from swebench_tasks.retrieval import Context, ContextFile

PROMPT_VERSION = "1"
MODES = ("retrieval", "statement", "text")
MAX_ERROR_CHARS = 2_000  # of git's message in the retry: enough to name the failing hunk

SYSTEM = (
    "You are an expert software engineer. You fix issues in real repositories by writing "
    "patches that apply cleanly with `git apply`."
)

PREMISE_CODE = "You will be provided with a partial code base and an issue statement explaining a problem to resolve."
PREMISE_STATEMENT = (
    "You will be provided with an issue statement explaining a problem to resolve in a repository that you cannot see."
)

PATCH_EXAMPLE = """\
diff --git a/file.py b/file.py
--- a/file.py
+++ b/file.py
@@ -1,27 +1,35 @@
 def euclidean(a, b):
-    while b:
-        a, b = b, a % b
-    return a
+    if b == 0:
+        return a
+    return euclidean(b, a % b)
 
 
 def bresenham(x0, y0, x1, y1):
     points = []
     dx = abs(x1 - x0)
     dy = abs(y1 - y0)
-    sx = 1 if x0 < x1 else -1
-    sy = 1 if y0 < y1 else -1
-    err = dx - dy
+    x, y = x0, y0
+    sx = -1 if x0 > x1 else 1
+    sy = -1 if y0 > y1 else 1
 
-    while True:
-        points.append((x0, y0))
-        if x0 == x1 and y0 == y1:
-            break
-        e2 = 2 * err
-        if e2 > -dy:
+    if dx > dy:
+        err = dx / 2.0
+        while x != x1:
+            points.append((x, y))
             err -= dy
-            x0 += sx
-        if e2 < dx:
-            err += dx
-            y0 += sy
+            if err < 0:
+                y += sy
+                err += dx
+            x += sx
+    else:
+        err = dy / 2.0
+        while y != y1:
+            points.append((x, y))
+            err -= dx
+            if err < 0:
+                x += sx
+                err += dy
+            y += sy
 
+    points.append((x, y))
     return points
"""  # SWE-bench's own example patch (swebench.inference), with a `diff --git` header

INSTRUCTIONS = """\
I need you to solve this issue by generating a single patch file that I can apply directly \
to this repository using git apply. Respond with exactly ONE unified diff inside one ```diff \
fenced block, in the format of this example:

```diff
{example}```

Rules: paths are relative to the repository root, with a/ and b/ prefixes; the line numbers \
in each @@ header are those of the code shown above (the number before each line is not part \
of the line); copy context and removed lines exactly, including indentation; keep three \
lines of context around each change; do not change tests unless the issue requires it."""

RETRY = """\
That patch does not apply: `git apply --check` said

```
{error}
```

Answer again with ONE corrected unified diff in one ```diff block. Copy every context and \
removed line exactly from the code shown, and give each hunk header the line numbers shown \
there."""


def build_messages(instance: dict, context: Context | None, mode: str) -> list[Message]:
    """The chat for one instance: system + user in SWE-bench's layout, or the row's `text`.

    `retrieval` shows the issue and the Context's code; `statement` the issue alone;
    `text` sends the dataset's prebuilt prompt (SWE-bench's BM25 text datasets) verbatim.
    """
    if mode not in MODES:
        raise UsageError(f"unknown context mode {mode!r}", fix=f"use one of: {', '.join(MODES)}")
    if mode == "text":
        text = instance.get("text")
        if not text:
            raise UsageError(
                f"instance {instance.get('instance_id', '?')} has no `text` column for --context text",
                fix="use a SWE-bench text dataset (e.g. princeton-nlp/SWE-bench_Lite_bm25_13K) or --context retrieval",
            )
        return [Message("user", text)]
    if mode == "retrieval" and context is None:
        raise ValueError("retrieval mode needs a Context; build the statement prompt instead")
    parts = [
        PREMISE_CODE if mode == "retrieval" else PREMISE_STATEMENT,
        "<issue>",
        instance["problem_statement"].strip(),
        "</issue>",
    ]
    hints = (instance.get("hints_text") or "").strip()
    if hints:
        parts += ["<hints>", hints, "</hints>"]
    if mode == "retrieval" and context is not None:
        parts += ["<code>", render_code(context.files), "</code>"]
    parts.append(INSTRUCTIONS.format(example=PATCH_EXAMPLE))
    return [Message("system", SYSTEM), Message("user", "\n".join(parts))]


def render_code(files: list[ContextFile]) -> str:
    """Each file once, `[start of path]` ... `[end of path]`, spans of it separated by `...`."""
    by_path: dict[str, list[ContextFile]] = {}
    for cf in files:
        by_path.setdefault(cf.path, []).append(cf)
    blocks: list[str] = []
    for path, spans in by_path.items():
        body: list[str] = []
        for cf in sorted(spans, key=lambda s: s.start_line):
            if cf.start_line > 1 or body:
                body.append("...")
            body.append(cf.numbered())
        blocks.append(f"[start of {path}]\n" + "\n".join(body) + f"\n[end of {path}]")
    return "\n".join(blocks)


def retry_messages(previous: list[Message], reply: str, apply_error: str) -> list[Message]:
    """The conversation for the one retry: the failed reply, then git's complaint."""
    error = apply_error.strip()[-MAX_ERROR_CHARS:] or "(no message)"
    return [*previous, Message("assistant", reply), Message("user", RETRY.format(error=error))]
