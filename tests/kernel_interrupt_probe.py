"""Presses Kernel -> Interrupt during a Trainer run in the real Deno Jupyter kernel, as JupyterLab
does (SIGINT to the kernel process), then uses the same kernel again.

Prints one JSON object: the interrupted cell's error, whether the kernel stayed alive, and what
the next cells saw. Used by tests/kernel_interrupt_test.ts.

  .venv/bin/python tests/kernel_interrupt_probe.py
"""
import json
import os
import sys
import time

from jupyter_client.manager import start_new_kernel

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SETUP = f"""
import {{ initBackend, Trainer }} from "{ROOT}/lib/mod.ts";
import {{ ToyClassifier, toyDataset }} from "{ROOT}/tests/train_toy_model.ts";
await initBackend("cpu");
const model = new ToyClassifier();
const data = toyDataset(96, 1);
const trainer = new Trainer({{
  model,
  args: {{ batchSize: 8, learningRate: 5e-2, numTrainEpochs: 5000, loggingSteps: 2, progress: false, seed: 3 }},
  trainDataset: data,
}});
console.log("ready");
"""
TRAIN = "await trainer.train();"
AFTER = """
const metrics = await trainer.evaluate(data);
console.log(JSON.stringify({ logged: trainer.history.train.length, finite: Number.isFinite(metrics.eval_loss) }));
"""
# Cells Run All had queued behind TRAIN: JupyterLab sends them at once and the Deno kernel runs
# them even after TRAIN fails (it ignores stop_on_error).
QUEUED_WORK = 'await trainer.evaluate(data); console.log("queued evaluate ran");'
QUEUED_PLAIN = 'console.log("queued plain cell ran");'
AGAIN = """
const again = new Trainer({ model, args: { batchSize: 8, numTrainEpochs: 1, progress: false, seed: 3 }, trainDataset: data });
console.log(JSON.stringify({ again: (await again.train()).stoppedBy }));
"""


def collect(kc, msg_id, timeout):
    """Reads the outputs of one execution until it is idle: (stdout text, error or None, idle)."""
    stdout, error = [], None
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            msg = kc.get_iopub_msg(timeout=1)
        except Exception:
            continue
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            stdout.append(content["text"])
        elif kind == "error":
            error = {"ename": content["ename"], "evalue": content["evalue"]}
        elif kind == "status" and content["execution_state"] == "idle":
            return "".join(stdout), error, True
    return "".join(stdout), error, False


def run(kc, code, timeout=120):
    """Executes code; returns (stdout text, error dict or None)."""
    out, error, _ = collect(kc, kc.execute(code), timeout)
    return out, error


def main() -> None:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    km, kc = start_new_kernel(kernel_name="deno", cwd=ROOT, env=env)
    report = {}
    try:
        out, err = run(kc, SETUP)
        report["setup"] = {"out": out.strip(), "error": err}
        msg_id = kc.execute(TRAIN)
        queued = [kc.execute(QUEUED_WORK), kc.execute(QUEUED_PLAIN)]
        time.sleep(3)
        started = time.time()
        km.interrupt_kernel()  # what JupyterLab's Interrupt button does
        _, error, idle = collect(kc, msg_id, 60)
        report["interrupted"] = {
            "error": error,
            "idle": idle,
            "seconds_to_stop": round(time.time() - started, 2),
        }
        report["queued"] = []
        for queued_id in queued:
            out, error, _ = collect(kc, queued_id, 60)
            report["queued"].append({"out": out.strip(), "error": error})
        report["alive_after_interrupt"] = km.is_alive()
        time.sleep(1.5)  # a learner's next click comes seconds later, not milliseconds
        out, err = run(kc, AFTER)
        report["after"] = {"out": out.strip(), "error": err}
        out, err = run(kc, AGAIN)
        report["again"] = {"out": out.strip(), "error": err}
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    json.dump(report, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
