#!/usr/bin/env python3
"""Execute Jupyter notebooks through the real Deno kernel and save signed, executed copies.

Why not plain `jupyter nbconvert --execute`: the Deno kernel may publish a cell's output after it
has reported the cell idle (timers, `Deno.jupyter.broadcast`, buffered console output). nbclient
stops listening at idle and drops those messages, or a later cell swallows them. This runner keeps
reading IOPub after each idle until the channel has been quiet for a grace period, and files every
message under the cell whose request it answers (by parent msg id).

It also guards against a Deno kernel race (see MAX_OUTPUT_BYTES): an output above 1 MiB fails the
run, and a message that fails its signature check gets the notebook one more run.

Usage:
  python tools/run_notebook.py NOTEBOOK [NOTEBOOK ...] [--output PATH | --output-dir DIR]
                               [--timeout SECONDS] [--grace SECONDS] [--env KEY=VALUE ...]

Exit status 0 when every notebook ran; 1 when a cell failed (the report names the notebook, the
cell number counted from 1, the head of its source and the error); 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import time
import traceback
import uuid
import warnings
from pathlib import Path
from queue import Empty
from typing import Any

import nbformat
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionComplete, CellExecutionError, CellTimeoutError, DeadKernelError
from nbformat.sign import NotebookNotary

KERNEL_NAME = "deno"
# The Deno kernel (2.9) can write another message into the middle of a very large one (seen with
# a 4.8 MB output: the cell's idle status landed inside it); Jupyter then rejects both with
# "Invalid Signature", losing the output and leaving the cell busy. Outputs above this size are
# therefore an error, caught in every run rather than in the rare run where the race strikes.
MAX_OUTPUT_BYTES = 1 << 20
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class LateOutputClient(NotebookClient):
    """NotebookClient that also collects outputs arriving after a cell went idle."""

    def __init__(self, nb: Any, grace_seconds: float, max_drain_seconds: float = 10.0, **kw: Any):
        super().__init__(nb, **kw)
        self.grace_seconds = grace_seconds
        self.max_drain_seconds = max_drain_seconds
        # parent msg id -> (cell, cell index), so a late message finds the cell that asked for it.
        self.cells_by_request: dict[str, tuple[Any, int]] = {}
        self.late_output_count = 0

    async def _async_poll_output_msg(self, parent_msg_id: str, cell: Any, cell_index: int) -> None:
        self.cells_by_request[parent_msg_id] = (cell, cell_index)
        assert self.kc is not None
        while True:
            msg = await self.kc.iopub_channel.get_msg(timeout=None)
            request_id = msg["parent_header"].get("msg_id")
            if request_id == parent_msg_id:
                try:
                    self.process_message(msg, cell, cell_index)
                except CellExecutionComplete:
                    return
            else:
                self._file_late_message(msg)

    def _file_late_message(self, msg: dict[str, Any]) -> None:
        owner = self.cells_by_request.get(msg["parent_header"].get("msg_id"))
        if owner is None or msg["msg_type"] == "status":
            return
        cell, cell_index = owner
        try:
            if self.process_message(msg, cell, cell_index) is not None:
                self.late_output_count += 1
        except CellExecutionComplete:
            pass

    async def _drain_late_outputs(self) -> None:
        """Read IOPub until it has been quiet for `grace_seconds` (at most `max_drain_seconds`)."""
        assert self.kc is not None
        deadline = time.monotonic() + self.max_drain_seconds
        while time.monotonic() < deadline:
            try:
                msg = await self.kc.iopub_channel.get_msg(timeout=self.grace_seconds)
            except (Empty, asyncio.TimeoutError):
                return
            self._file_late_message(msg)

    async def async_execute_cell(self, cell: Any, cell_index: int, execution_count: int | None = None,
                                 store_history: bool = True) -> Any:
        try:
            cell = await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        except CellExecutionError:
            await self._drain_late_outputs()
            raise
        if cell.cell_type == "code" and cell.source.strip():
            await self._drain_late_outputs()
        # Adjacent stream chunks are merged only once every cell has run (see run_notebook):
        # nbclient remembers display ids by output index, and a progress bar updated later
        # (even from a later cell) must still find its output at that index.
        return cell


def merge_adjacent_streams(outputs: list[Any]) -> list[Any]:
    """Late stream chunks arrive as separate outputs; Jupyter shows one block per stream run."""
    merged: list[Any] = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if (previous is not None and output.get("output_type") == "stream"
                and previous.get("output_type") == "stream" and previous.get("name") == output.get("name")):
            previous["text"] += output["text"]
        else:
            merged.append(output)
    return merged


def oversized_outputs(nb: Any) -> list[tuple[int, int]]:
    """(cell index, bytes) of every output whose message content exceeds MAX_OUTPUT_BYTES."""
    found = []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            size = len(json.dumps(output, ensure_ascii=False).encode("utf-8"))
            if size > MAX_OUTPUT_BYTES:
                found.append((index, size))
    return found


def ensure_deno_kernelspec() -> None:
    try:
        KernelSpecManager().get_kernel_spec(KERNEL_NAME)
        return
    except NoSuchKernel:
        pass
    deno = shutil.which("deno")
    if deno is None:
        raise SystemExit("deno is not on PATH: install Deno first (https://deno.com), then run `deno task setup`.")
    print("[run_notebook] installing the Deno Jupyter kernel: deno jupyter --install", file=sys.stderr)
    subprocess.run([deno, "jupyter", "--install", "--force"], check=True)


def source_head(source: str, lines: int = 4) -> str:
    head = source.splitlines()[:lines]
    more = "\n    ..." if len(source.splitlines()) > lines else ""
    return "\n".join("    " + line for line in head) + more


def describe_failure(nb: Any, error: BaseException) -> str:
    failed_index = next((i for i, c in enumerate(nb.cells) if c.get("metadata", {}).get("_failed")), None)
    lines = []
    if failed_index is not None:
        cell = nb.cells[failed_index]
        lines.append(f"cell {failed_index + 1} of {len(nb.cells)} failed:")
        lines.append(source_head(cell.source))
    lines.append(ANSI_ESCAPE.sub("", str(error)).strip())
    return "\n".join(lines)


class CorruptedMessage(Exception):
    """The kernel sent a message that failed its signature check (see MAX_OUTPUT_BYTES)."""


def run_notebook(path: Path, output: Path | None, timeout: int, grace: float) -> bool:
    """Runs one notebook; a corrupted kernel message (a Deno kernel race) gets one more try."""
    try:
        return run_notebook_once(path, output, timeout, grace)
    except CorruptedMessage:
        print(f"[run_notebook] {path}: the kernel sent a corrupted message (Invalid Signature, a known Deno"
              " kernel race); running the notebook once more", file=sys.stderr)
        try:
            return run_notebook_once(path, output, timeout, grace)
        except CorruptedMessage:
            return False


def run_notebook_once(path: Path, output: Path | None, timeout: int, grace: float) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # missing cell ids are added just below
        nb = nbformat.read(path, as_version=4)
    # nbformat 4.5 wants cell ids; notebooks built by tools/build_notebooks.ts have none.
    if nb.nbformat_minor >= 5:
        for cell in nb.cells:
            cell.setdefault("id", uuid.uuid4().hex[:8])
    client = LateOutputClient(
        nb,
        grace_seconds=grace,
        timeout=timeout,
        kernel_name=KERNEL_NAME,
        resources={"metadata": {"path": str(path.parent.resolve())}},
        record_timing=False,
    )

    def mark_failed_cell(cell: Any, cell_index: int, **_: Any) -> None:
        cell.setdefault("metadata", {})["_failed"] = True

    client.on_cell_error = mark_failed_cell
    started = time.monotonic()
    ok = True
    corrupted = False
    try:
        client.execute()
    except CellTimeoutError as error:
        ok = False
        index = next((i for i, c in enumerate(nb.cells) if c.get("execution_count") is None
                      and c.cell_type == "code" and c.source.strip()), None)
        if index is not None:
            nb.cells[index].setdefault("metadata", {})["_failed"] = True
        print(f"FAILED {path}: timeout after {timeout}s\n{describe_failure(nb, error)}", file=sys.stderr)
    except (CellExecutionError, DeadKernelError) as error:
        ok = False
        print(f"FAILED {path}: {describe_failure(nb, error)}", file=sys.stderr)
    except Exception as error:  # a runner or kernel-protocol fault: still report which cell, keep the copy
        ok = False
        corrupted = "Invalid Signature" in str(error)
        hint = ""
        if corrupted:
            hint = ("\nThe kernel sent a corrupted message. The Deno kernel does this when another message"
                    " is written while a very large output is being sent: keep every output under"
                    f" {MAX_OUTPUT_BYTES // 1024} KiB.")
        print(f"FAILED {path}: the runner itself broke ({type(error).__name__}) while executing:\n"
              f"{describe_failure(nb, error)}{hint}\n{traceback.format_exc()}", file=sys.stderr)
    oversized = oversized_outputs(nb)
    for index, size in oversized:
        ok = False
        print(f"FAILED {path}: cell {index + 1} sent an output of {size / 1e6:.1f} MB (limit"
              f" {MAX_OUTPUT_BYTES / 1e6:.1f} MB). The Deno kernel can corrupt messages that large (another"
              f" message lands inside; Jupyter drops both as 'Invalid Signature'):\n"
              f"{source_head(nb.cells[index].source)}", file=sys.stderr)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = merge_adjacent_streams(cell.get("outputs", []))
    for cell in nb.cells:
        cell.get("metadata", {}).pop("_failed", None)
    elapsed = time.monotonic() - started
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        # Signed notebooks are "trusted": JupyterLab then renders their HTML/JS outputs (plotly).
        NotebookNotary().sign(nb)
        nbformat.write(nb, output)
    status = "ok" if ok else "FAILED"
    late = f", {client.late_output_count} late output(s) caught" if client.late_output_count else ""
    where = f" -> {output}" if output is not None else ""
    print(f"[run_notebook] {status} {path} in {elapsed:.1f}s{late}{where}", file=sys.stderr)
    if corrupted and not oversized:
        raise CorruptedMessage(str(path))
    return ok


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Run notebooks on the Deno Jupyter kernel.")
    parser.add_argument("notebooks", nargs="+", type=Path)
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--output", type=Path, help="executed copy of the single notebook (signed)")
    target.add_argument("--output-dir", type=Path, help="folder for executed copies, same file names")
    parser.add_argument("--timeout", type=int, default=int(os.environ.get("COURSE_CELL_TIMEOUT", "900")),
                        help="seconds one cell may run (default 900, env COURSE_CELL_TIMEOUT)")
    parser.add_argument("--grace", type=float, default=0.5,
                        help="seconds of IOPub silence that end a cell (default 0.5)")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="extra environment variable for the kernel (the runner's own env is passed on)")
    args = parser.parse_args(argv)
    if args.output is not None and len(args.notebooks) != 1:
        parser.error("--output takes one notebook; use --output-dir for several")
    for pair in args.env:
        if "=" not in pair:
            parser.error(f"--env expects KEY=VALUE, got {pair!r}")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    for pair in args.env:
        key, value = pair.split("=", 1)
        os.environ[key] = value  # the kernel process inherits the runner's environment
    ensure_deno_kernelspec()
    all_ok = True
    for notebook in args.notebooks:
        if not notebook.is_file():
            print(f"FAILED {notebook}: no such notebook", file=sys.stderr)
            all_ok = False
            continue
        output = args.output or (args.output_dir / notebook.name if args.output_dir else None)
        all_ok = run_notebook(notebook, output, args.timeout, args.grace) and all_ok
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
