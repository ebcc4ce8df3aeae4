#!/usr/bin/env python3
"""Runs lessons as a learner does: JupyterLab in a real browser (Chromium, driven by Selenium).

For each notebook: a working copy in my_notebooks/ (as `deno task lab` gives learners), Kernel >
"Restart Kernel and Run All Cells" from the menu, screenshots of every cell that runs longer than
--long seconds (while it runs, so the live progress shows), then the copy is saved from the
browser and read back to find errors. With --interrupt MARK[:SECONDS] Kernel > Interrupt Kernel is
pressed once a cell whose source contains MARK has run SECONDS, the cell must end with the
library's "중단했습니다" error while the kernel stays alive, and the notebook continues from that
cell without a restart ("Run Selected Cell and All Below").

Reports, per notebook: wall time, the kernel's peak resident memory (VmHWM of the Deno kernel),
the long cells and their times, errors. Needs Debian's `chromium` + `chromium-driver` and
`selenium` in .venv (`.venv/bin/pip install --no-deps selenium`); not part of CI.

  .venv/bin/python tools/notebooks/browser_check.py notebooks/04_*.ipynb --interrupt trainer.train:40 \
      --shots out/browser --report out/browser/report.json
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

import nbformat
from nbformat.sign import NotebookNotary
from run_notebook import course_run_record, peak_rss_bytes  # same folder: the one home of both
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

ROOT = Path(__file__).resolve().parents[2]
# The open notebook's panel (JupyterLab keeps hidden panels of other tabs in the page).
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"
TOKEN = "course-browser-check"
WORK_DIR = ROOT / "my_notebooks"
INTERRUPTED = "중단했습니다"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_lab(port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    args = [str(ROOT / ".venv/bin/jupyter"), "lab", "--no-browser", f"--port={port}",
            f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={ROOT}"]
    if os.getuid() == 0:
        args.append("--allow-root")
    lab = subprocess.Popen(args, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return lab
        except OSError:
            time.sleep(0.5)
    lab.terminate()
    raise SystemExit(f"JupyterLab did not start in 60 s; see {log}")


def kernel_pids(lab_pid: int) -> list[int]:
    """Deno kernels started by this server (its children running `deno jupyter --kernel`)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().split(b"\0")
            stat = (proc / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == lab_pid and b"jupyter" in cmd and b"--kernel" in cmd:
            pids.append(int(proc.name))
    return pids


def browser(width: int = 1400, height: int = 1000) -> webdriver.Chrome:
    options = Options()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", f"--window-size={width},{height}", "--lang=ko-KR"):
        options.add_argument(arg)
    return webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver") or "chromedriver"))


class Lab:
    """The notebook panel of one open notebook, driven through JupyterLab's menus."""

    def __init__(self, driver: webdriver.Chrome):
        self.d = driver

    def status(self) -> str:
        found = self.d.find_elements(By.CSS_SELECTOR, f"{PANEL} .jp-Notebook-ExecutionIndicator")
        return found[0].get_attribute("data-status") or "" if found else ""

    def kernel_ready(self) -> bool:
        bar = self.d.find_elements(By.CSS_SELECTOR, "#jp-main-statusbar, .jp-StatusBar-Widget")
        return any("| Idle" in e.text for e in bar)

    def kernel_dead_dialog(self) -> str | None:
        for dialog in self.d.find_elements(By.CSS_SELECTOR, ".jp-Dialog-header"):
            text = dialog.text
            if "died" in text.lower() or "restart" in text.lower():
                return text
        return None

    def accept_dialog(self, timeout: float = 10) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            buttons = self.d.find_elements(By.CSS_SELECTOR, ".jp-Dialog-button.jp-mod-accept")
            if buttons:
                buttons[0].click()
                return
            time.sleep(0.2)

    def menu(self, top: str, item: str) -> None:
        for entry in self.d.find_elements(By.CSS_SELECTOR, ".lm-MenuBar-item"):
            if entry.text.strip() == top:
                entry.click()
                break
        time.sleep(0.5)
        for entry in self.d.find_elements(By.CSS_SELECTOR, ".lm-Menu-item"):
            if entry.text.strip().startswith(item):
                entry.click()
                return
        raise RuntimeError(f"menu item {top} > {item} not found")

    def code_cells(self) -> list[Any]:
        return self.d.find_elements(By.CSS_SELECTOR, f"{PANEL} .jp-CodeCell")

    def running_cell(self) -> tuple[int, Any] | None:
        for index, cell in enumerate(self.code_cells()):
            try:
                prompt = cell.find_element(By.CSS_SELECTOR, ".jp-InputPrompt").text
            except (StaleElementReferenceException, WebDriverException):
                continue
            if "*" in prompt:
                return index, cell
        return None

    def cell_source(self, cell: Any) -> str:
        return cell.find_element(By.CSS_SELECTOR, ".jp-InputArea-editor").text

    def cell_output_text(self, cell: Any) -> str:
        return "\n".join(o.text for o in cell.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output"))

    def select(self, cell: Any) -> None:
        self.d.execute_script("arguments[0].scrollIntoView({block: 'start'});", cell)
        cell.find_element(By.CSS_SELECTOR, ".jp-InputPrompt").click()

    def shot(self, cell: Any, path: Path) -> None:
        # The output (progress) matters more than the code: put the cell's bottom in view.
        self.d.execute_script("arguments[0].scrollIntoView({block: 'end'});", cell)
        time.sleep(0.3)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.d.save_screenshot(str(path))


def check_notebook(notebook: Path, args: argparse.Namespace, lab: subprocess.Popen[bytes], port: int,
                   driver: webdriver.Chrome) -> dict[str, Any]:
    WORK_DIR.mkdir(exist_ok=True)
    copy = WORK_DIR / f"_browser_check_{notebook.name}"
    shutil.copy(notebook, copy)
    relative = copy.relative_to(ROOT).as_posix()
    driver.get(f"http://127.0.0.1:{port}/lab/workspaces/browser-check/tree/"
               f"{urllib.parse.quote(relative)}?reset&token={TOKEN}")
    ui = Lab(driver)
    deadline = time.time() + 120
    while not ui.kernel_ready() and time.time() < deadline:
        time.sleep(0.5)
    stem = notebook.stem
    report: dict[str, Any] = {"notebook": str(notebook), "long_cells": [], "screenshots": []}

    def note_if_long(cell: tuple[int, float] | None, now: float) -> None:
        """Records a finished cell (index, start) that ran at least --long seconds."""
        if cell is not None and now - cell[1] >= args.long:
            report["long_cells"].append({"cell": cell[0] + 1, "seconds": round(now - cell[1], 1)})
    started = time.monotonic()
    ui.menu("Kernel", "Restart Kernel and Run All Cells")
    ui.accept_dialog()
    interrupt_mark, _, interrupt_after = (args.interrupt or "").partition(":")
    interrupt_seconds = float(interrupt_after or 30)
    interrupted_cell: int | None = None
    current: tuple[int, float] | None = None
    last_shot = 0.0
    idle_since: float | None = None
    pids: list[int] = []
    while time.monotonic() - started < args.timeout:
        time.sleep(1)
        pids = pids or kernel_pids(lab.pid)
        dead = ui.kernel_dead_dialog()
        if dead:
            report["kernel_died"] = dead
            ui.d.save_screenshot(str(args.shots / f"{stem}-kernel-died.png"))
            break
        running = ui.running_cell()
        now = time.monotonic()
        if running is None:
            note_if_long(current, now)
            current = None
            if ui.status() == "idle":
                idle_since = idle_since or now
                if now - idle_since > 4:
                    break
            continue
        idle_since = None
        index, cell = running
        if current is None or current[0] != index:
            note_if_long(current, now)
            current = (index, now)
            last_shot = 0.0
        elapsed = now - current[1]
        if elapsed >= args.long and now - last_shot >= args.shot_every:
            path = args.shots / f"{stem}-cell{index + 1:02d}-{int(elapsed):04d}s.png"
            try:
                ui.shot(cell, path)
                report["screenshots"].append(str(path))
            except WebDriverException:
                pass
            last_shot = now
        if (interrupt_mark and interrupted_cell is None and elapsed >= interrupt_seconds
                and interrupt_mark in ui.cell_source(cell)):
            ui.shot(cell, args.shots / f"{stem}-cell{index + 1:02d}-before-interrupt.png")
            pressed = time.monotonic()
            ui.menu("Kernel", "Interrupt Kernel")
            while ui.running_cell() is not None and time.monotonic() - pressed < 60:
                time.sleep(0.2)
            stopped_after = time.monotonic() - pressed
            interrupted_cell = index
            time.sleep(2)
            text = ui.cell_output_text(ui.code_cells()[index])
            ui.shot(ui.code_cells()[index], args.shots / f"{stem}-cell{index + 1:02d}-after-interrupt.png")
            report["interrupt"] = {
                "cell": index + 1,
                "after_seconds": round(elapsed, 1),
                "stopped_within_seconds": round(stopped_after, 1),
                "says_interrupted": INTERRUPTED in text,
                "kernel_status_after": ui.status(),
                "kernel_alive": not ui.kernel_dead_dialog() and all(Path(f"/proc/{p}").exists() for p in pids),
            }
            current = None
            # Continue without restarting: the interrupted cell and everything below it.
            ui.select(ui.code_cells()[index])
            ui.menu("Run", "Run Selected Cell and All Below")
    report["wall_seconds"] = round(time.monotonic() - started, 1)
    peak_bytes = max((peak_rss_bytes(p) or 0 for p in pids), default=0)
    report["kernel_peak_rss_mib"] = round(peak_bytes / 2**20)
    ui.menu("File", "Save Notebook")
    time.sleep(3)
    saved = nbformat.read(copy, as_version=4)
    errors = []
    for number, cell in enumerate((c for c in saved.cells if c.cell_type == "code"), start=1):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                errors.append({"cell": number, "ename": output.get("ename"),
                               "evalue": str(output.get("evalue"))[:300]})
    report["errors"] = errors
    report["unexecuted_cells"] = sum(1 for c in saved.cells if c.cell_type == "code" and c.source.strip()
                                     and c.get("execution_count") is None)
    if args.executed_dir and not args.interrupt:
        # The browser's own run becomes the instructors' executed copy (what learners see).
        saved.metadata["course_run"] = course_run_record(
            quick=args.quick, seconds=report["wall_seconds"], peak_rss_bytes=peak_bytes,
            ok=not errors and not report["unexecuted_cells"],
            runner="JupyterLab in Chromium (tools/notebooks/browser_check.py)", long_cells=report["long_cells"])
        for cell in saved.cells:
            cell.get("metadata", {}).pop("execution", None)
            cell.get("metadata", {}).pop("trusted", None)
        target = args.executed_dir / notebook.name
        target.parent.mkdir(parents=True, exist_ok=True)
        NotebookNotary().sign(saved)
        nbformat.write(saved, target)
        report["executed_copy"] = str(target)
    driver.save_screenshot(str(args.shots / f"{stem}-end.png"))
    if not args.keep:
        copy.unlink(missing_ok=True)
    # Shut the kernel down as a learner is told to (File > Shut Down Kernel): its memory comes back.
    try:
        ui.menu("Kernel", "Shut Down Kernel")
        ui.accept_dialog(3)
    except (RuntimeError, WebDriverException):
        pass
    return report


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--quick", action="store_true", help="COURSE_QUICK=1 (default: full mode)")
    parser.add_argument("--interrupt", help="MARK[:SECONDS]: press Interrupt in the cell whose source has MARK")
    parser.add_argument("--long", type=float, default=10, help="a cell running this long gets screenshots")
    parser.add_argument("--shot-every", type=float, default=45)
    parser.add_argument("--shots", type=Path, default=ROOT / "out/browser")
    parser.add_argument("--report", type=Path)
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per notebook")
    parser.add_argument("--executed-dir", type=Path,
                        help="write each run (without --interrupt) here as the lesson's executed copy")
    parser.add_argument("--keep", action="store_true", help="keep the executed working copy")
    args = parser.parse_args(argv)
    args.shots.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if args.quick:
        env["COURSE_QUICK"] = "1"
    else:
        env.pop("COURSE_QUICK", None)
    if "COURSE_MIRROR" not in env and (ROOT.parent / "shared/mirror").is_dir():
        env["COURSE_MIRROR"] = str((ROOT.parent / "shared/mirror").resolve())
    port = free_port()
    lab = start_lab(port, env, args.shots / "jupyterlab.log")
    driver = browser()
    reports = []
    try:
        for notebook in args.notebooks:
            try:
                report = check_notebook(notebook.resolve(), args, lab, port, driver)
            except Exception:
                driver.save_screenshot(str(args.shots / f"{notebook.stem}-driver-error.png"))
                raise
            print(json.dumps(report, ensure_ascii=False), flush=True)
            reports.append(report)
    finally:
        driver.quit()
        lab.terminate()
        lab.wait(20)
    if args.report:
        args.report.write_text(json.dumps(reports, ensure_ascii=False, indent=2))
    failed = [r for r in reports if r["errors"] and not (r.get("interrupt") and all(
        INTERRUPTED in e["evalue"] or e["cell"] == r["interrupt"]["cell"] for e in r["errors"]))]
    return 1 if failed or any(r.get("kernel_died") for r in reports) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
