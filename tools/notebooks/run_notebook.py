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
  python tools/notebooks/run_notebook.py NOTEBOOK [NOTEBOOK ...] [--output PATH | --output-dir DIR]
                               [--timeout SECONDS] [--grace SECONDS] [--env KEY=VALUE ...]

Exit status 0 when every notebook ran; 1 when a cell failed (the report names the notebook, the
cell number counted from 1, the head of its source and the error); 2 for bad arguments.

When the kernel process dies in a cell (`Deno.exit()`, a crash, out of memory), the report and an
error output in that cell say which cell, how the process ended, its last stderr lines and what to
do (in Korean, like the lessons); outputs the kernel sent before it died are kept.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import collections
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
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


def peak_rss_bytes(pid: int) -> int | None:
    """A process's peak resident memory so far (VmHWM); None once it has exited."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return 0


def course_run_record(quick: bool, seconds: float, peak_rss_bytes: int, ok: bool, **extra: Any) -> dict[str, Any]:
    """metadata.course_run of an executed copy: how and how long it ran (read by
    tests/executed_copies_test.ts and tools/notebooks/lesson_costs.py)."""
    return {
        "mode": "quick" if quick else "full",
        "seconds": round(seconds, 1),
        "kernel_peak_rss_mib": round(peak_rss_bytes / 2**20),
        "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "ok": ok,
        **extra,
    }


class LateOutputClient(NotebookClient):
    """NotebookClient that also collects outputs arriving after a cell went idle."""

    def __init__(self, nb: Any, grace_seconds: float, max_drain_seconds: float = 10.0, **kw: Any):
        super().__init__(nb, **kw)
        self.grace_seconds = grace_seconds
        self.max_drain_seconds = max_drain_seconds
        # parent msg id -> (cell, cell index), so a late message finds the cell that asked for it.
        self.cells_by_request: dict[str, tuple[Any, int]] = {}
        self.late_output_count = 0
        self.kernel_process: subprocess.Popen[bytes] | None = None
        self.kernel_stderr: KernelStderr | None = None
        self.death: KernelDeath | None = None

    async def async_start_new_kernel(self, **kw: Any) -> None:
        # The kernel's stderr is piped through the runner (still shown live) so that a dying kernel's
        # last words (a Rust panic, V8's "heap out of memory") can go into the report.
        await super().async_start_new_kernel(stderr=subprocess.PIPE, **kw)
        self.kernel_process = getattr(getattr(self.km, "provisioner", None), "process", None)
        if self.kernel_process is not None and self.kernel_process.stderr is not None:
            self.kernel_stderr = KernelStderr(self.kernel_process.stderr)
        if self.kernel_process is not None:
            threading.Thread(target=self._watch_peak_rss, args=(self.kernel_process.pid,), daemon=True).start()

    peak_rss_bytes = 0

    def _watch_peak_rss(self, pid: int) -> None:
        """The kernel's peak resident memory, read until it exits: the figure a lesson states."""
        while (peak := peak_rss_bytes(pid)) is not None:
            self.peak_rss_bytes = max(self.peak_rss_bytes, peak)
            time.sleep(0.5)

    async def async_start_new_kernel_client(self) -> Any:
        try:
            return await super().async_start_new_kernel_client()
        except RuntimeError as error:
            if "Kernel died" not in str(error):
                raise
            # nbclient has already cleaned up; its atexit hook would now fail on the missing manager.
            atexit.unregister(self._cleanup_kernel)
            self.death = KernelDeath(None, self._kernel_exit_code(), self._stderr_tail())
            raise DeadKernelError(str(error)) from error

    def _kernel_exit_code(self) -> int | None:
        """The process's exit status (negative: the signal that ended it); None while it runs."""
        process = self.kernel_process
        return process.poll() if process is not None else None

    def _stderr_tail(self) -> list[str]:
        return self.kernel_stderr.tail() if self.kernel_stderr else []

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
        except DeadKernelError:
            # Messages the kernel sent before it died may still wait in the IOPub queue.
            await self._drain_late_outputs()
            exit_code = self._kernel_exit_code()
            self.death = KernelDeath(cell_index, exit_code, self._stderr_tail())
            cell.setdefault("metadata", {})["_failed"] = True
            cell.setdefault("outputs", []).append(nbformat.v4.new_output(
                "error",
                ename="DeadKernelError",
                evalue=f"커널이 이 셀을 실행하다 종료되었습니다 ({describe_exit(exit_code, korean=True)})",
                traceback=self.death.notebook_lines(),
            ))
            raise
        if cell.cell_type == "code" and cell.source.strip():
            await self._drain_late_outputs()
        # Adjacent stream chunks are merged only once every cell has run (see run_notebook):
        # nbclient remembers display ids by output index, and a progress bar updated later
        # (even from a later cell) must still find its output at that index.
        return cell


class KernelStderr:
    """Copies the kernel's stderr to ours as it comes and keeps its last lines for the report."""

    NOISE = re.compile(r'"deno jupyter" is unstable')
    # What follows V8's fatal-error banner is a long C stack trace: it would push the reason out.
    STACK_TRACE = re.compile(r"^=+ C stack trace =+$")

    def __init__(self, stream: Any, keep: int = 12):
        self.lines: collections.deque[str] = collections.deque(maxlen=keep)
        self.in_stack_trace = False
        self.thread = threading.Thread(target=self._copy, args=(stream,), daemon=True)
        self.thread.start()

    def _copy(self, stream: Any) -> None:
        for raw in iter(stream.readline, b""):
            out = getattr(sys.stderr, "buffer", None)
            if out is not None:
                out.write(raw)
                out.flush()
            else:
                sys.stderr.write(raw.decode("utf-8", "replace"))
            line = ANSI_ESCAPE.sub("", raw.decode("utf-8", "replace")).rstrip()
            if self.STACK_TRACE.match(line.strip()):
                self.in_stack_trace = True
            if line.strip() and not self.NOISE.search(line) and not self.in_stack_trace:
                self.lines.append(line[:300])

    def tail(self) -> list[str]:
        self.thread.join(timeout=2)  # the pipe closes once the process is gone
        return list(self.lines)


def describe_exit(exit_code: int | None, korean: bool = False) -> str:
    if exit_code is None:
        return "종료 코드 모름" if korean else "exit code unknown"
    if exit_code < 0:
        try:
            name = f"{signal.Signals(-exit_code).name} ({-exit_code})"
        except ValueError:
            name = str(-exit_code)
        return f"신호 {name}" if korean else f"killed by signal {name}"
    return f"종료 코드 {exit_code}" if korean else f"exit code {exit_code}"


V8_OUT_OF_MEMORY = re.compile(r"out of memory|heap limit|allocation failed", re.IGNORECASE)
LESS_MEMORY = ("COURSE_QUICK=1(빠른 모드)로 실행하거나 batchSize·maxLength·데이터 크기를 줄이고, 메모리를 쓰는"
               " 다른 노트북과 프로그램을 닫은 뒤 다시 실행하세요.")


def kernel_death_advice(exit_code: int | None, stderr_tail: list[str]) -> list[str]:
    """Korean, for learners: why a kernel process ends like this, and what to do."""
    signal_number = -exit_code if exit_code is not None and exit_code < 0 else None
    if any(V8_OUT_OF_MEMORY.search(line) for line in stderr_tail):
        advice = ["자바스크립트(V8) 힙 메모리가 가득 차서 커널이 끝났습니다.",
                  LESS_MEMORY + " 텐서는 tf.tidy()나 dispose()로 정리하고, 큰 배열을 변수에 계속 쌓지 마세요."
                  " 더 큰 힙이 꼭 필요하면 DENO_V8_FLAGS=--max-old-space-size=8192처럼 한도를 올려 Jupyter를 시작하세요."]
    elif signal_number == signal.SIGKILL:
        advice = ["운영체제가 커널 프로세스를 강제로 끝냈습니다(SIGKILL). 대부분 메모리 부족입니다"
                  "(리눅스 OOM killer, 컨테이너 메모리 한도).", LESS_MEMORY]
    elif signal_number is not None:
        advice = ["커널 프로세스가 비정상 종료했습니다(충돌). 네이티브 라이브러리(TensorFlow, WebGPU)의 오류이거나"
                  " 메모리 부족일 수 있습니다.",
                  "터미널에 찍힌 커널 stderr를 확인하세요. 네이티브 엔진 문제로 보이면 COURSE_BACKEND=wasm"
                  " (또는 cpu)로, 메모리 문제로 보이면 batchSize·maxLength를 줄여 다시 실행해 보세요."]
    elif exit_code is not None:
        advice = ["커널 프로세스가 스스로 끝났습니다. 셀 코드가 Deno.exit()를 불렀거나, 처리되지 않은 오류"
                  "(await하지 않은 Promise의 오류 등)로 Deno가 종료되었을 수 있습니다.",
                  "노트북 안에서는 Deno.exit() 대신 throw new Error(...)로 멈추고, 비동기 호출에는 await를 붙이세요."]
    else:
        advice = ["커널 프로세스가 응답 없이 사라졌습니다.",
                  "터미널에 찍힌 커널 stderr를 확인하고, 메모리 사용량을 줄여 다시 실행해 보세요."]
    return [*advice, "이 셀 뒤의 셀은 실행되지 않았습니다. Jupyter에서는 Kernel → Restart Kernel 후 처음부터"
                     " 다시 실행하세요."]


class KernelDeath:
    """Where and how the kernel process died (cell_index None: while it was starting)."""

    def __init__(self, cell_index: int | None, exit_code: int | None, stderr_tail: list[str]):
        self.cell_index = cell_index
        self.exit_code = exit_code
        self.stderr_tail = stderr_tail

    def advice(self) -> list[str]:
        return kernel_death_advice(self.exit_code, self.stderr_tail)

    def notebook_lines(self) -> list[str]:
        """The traceback of the error output left in the cell (Jupyter shows it under the cell)."""
        lines = [f"커널이 이 셀을 실행하다 종료되었습니다 ({describe_exit(self.exit_code, korean=True)}).",
                 *("→ " + line for line in self.advice())]
        if self.stderr_tail:
            lines.append("커널 stderr 마지막 줄:")
            lines.extend("    " + line for line in self.stderr_tail)
        return lines

    def report(self, nb: Any) -> str:
        if self.cell_index is None:
            lines = [f"the kernel died while starting ({describe_exit(self.exit_code)}), before any cell ran"]
        else:
            lines = [f"cell {self.cell_index + 1} of {len(nb.cells)} failed: the kernel died while it ran"
                     f" ({describe_exit(self.exit_code)}):",
                     source_head(nb.cells[self.cell_index].source)]
        if self.stderr_tail:
            lines.append("kernel stderr (last lines):")
            lines.extend("    " + line for line in self.stderr_tail)
        advice = self.advice()
        if self.cell_index is None:
            advice = advice[:-1] + ["`deno jupyter --install --force`로 커널을 다시 설치하고, DENO_V8_FLAGS 같은"
                                    " 환경 변수가 커널을 막고 있지 않은지 확인하세요."]
        lines.extend("→ " + line for line in advice)
        return "\n".join(lines)


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
    # nbformat 4.5 wants cell ids; notebooks built by tools/notebooks/build_notebooks.ts have none.
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
    except DeadKernelError as error:
        ok = False
        death = client.death or KernelDeath(None, client._kernel_exit_code(), client._stderr_tail())
        print(f"FAILED {path}: {death.report(nb)}", file=sys.stderr)
    except CellExecutionError as error:
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
        # What an instructor reads next to the outputs: how and how long this copy ran.
        nb.metadata["course_run"] = course_run_record(
            quick=os.environ.get("COURSE_QUICK") == "1", seconds=elapsed,
            peak_rss_bytes=client.peak_rss_bytes, ok=ok)
        output.parent.mkdir(parents=True, exist_ok=True)
        # Signed notebooks are "trusted": JupyterLab then renders their HTML/JS outputs (plotly).
        NotebookNotary().sign(nb)
        nbformat.write(nb, output)
    status = "ok" if ok else "FAILED"
    late = f", {client.late_output_count} late output(s) caught" if client.late_output_count else ""
    where = f" -> {output}" if output is not None else ""
    peak = f", kernel peak RSS {client.peak_rss_bytes / 2**20:.0f} MiB" if client.peak_rss_bytes else ""
    print(f"[run_notebook] {status} {path} in {elapsed:.1f}s{peak}{late}{where}", file=sys.stderr)
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
