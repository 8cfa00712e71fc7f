"""The peer the benchmark measures this system against: Celery, one task per predict job, the same MLP in numpy.

Run with Debian's Python (/usr/bin/python3) after scripts/install-peer.sh. Two roles, both started by the benchmark
(benchmarks/AIaaS.Queue.Benchmarks/CeleryPeer.cs), never left running:

  worker: python3 -m celery -A celery_peer worker ...    evaluates AIAAS_PEER_MODELS/<model>.onnx for each task
  driver: python3 celery_peer.py MODEL RECORDS.json      submits one task per record, waits for every result, and
                                                        prints {"jobs", "seconds", "first"} as one JSON line

The weights are read from the ONNX file the benchmark writes (Debian's python3-onnx), and the graph is evaluated
node by node, so the peer computes what ONNX Runtime computes for the system; the benchmark checks the first output.
"""

import json
import os
import sys
import threading
import time

import numpy as np
import onnx
from celery import Celery, signals
from celery.result import ResultSet
from onnx import numpy_helper

app = Celery("celery_peer", broker=os.environ.get("AIAAS_PEER_BROKER", "amqp://guest:guest@127.0.0.1:5672//"))
app.conf.update(
    # Results come back to the client on a reply queue of its own, as the system's completion events do.
    result_backend="rpc://",
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    # acks_late: a job is acknowledged once done, so a worker crash loses none (the system acknowledges after the
    # result is stored). The multiplier is per worker process.
    task_acks_late=True,
    worker_prefetch_multiplier=int(os.environ.get("AIAAS_PEER_PREFETCH", "16")),
    worker_disable_rate_limits=True,
    broker_connection_retry_on_startup=True,
)

_models = {}


def _load(path):
    model = onnx.load(path)
    weights = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    return list(model.graph.node), weights, model.graph.output[0].name


def _attributes(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _run(node, args):
    """The operators an MLP graph uses, with ONNX's semantics (opset 13+); any other fails the task loudly."""
    a = _attributes(node)
    op = node.op_type
    if op == "Gemm":
        x, w = args[0], args[1]
        x = x.T if a.get("transA", 0) else x
        w = w.T if a.get("transB", 0) else w
        y = a.get("alpha", 1.0) * (x @ w)
        return y + a.get("beta", 1.0) * args[2] if len(args) > 2 else y
    if op == "MatMul":
        return args[0] @ args[1]
    if op == "Add":
        return args[0] + args[1]
    if op == "Relu":
        return np.maximum(args[0], 0)
    if op == "Sigmoid":
        return 1 / (1 + np.exp(-args[0]))
    if op == "Tanh":
        return np.tanh(args[0])
    if op == "Softmax":
        return _softmax(args[0], a.get("axis", -1))
    raise ValueError(f"operator {op} is not supported by the peer")


def evaluate(name, features):
    if name not in _models:
        _models[name] = _load(os.path.join(os.environ["AIAAS_PEER_MODELS"], name + ".onnx"))
    nodes, weights, output = _models[name]
    values = dict(weights)
    values[nodes[0].input[0]] = np.asarray(features, dtype=np.float32)[None, :]
    for node in nodes:
        values[node.output[0]] = _run(node, [values[i] for i in node.input])
    return values[output][0].tolist()


@app.task(name="predict")
def predict(model, features):
    return evaluate(model, features)


def _exit_with(parent_pid, deadline_seconds):
    """Ends the worker when the benchmark is gone or its time is up, so that no worker outlives a run."""
    until = time.monotonic() + deadline_seconds
    while time.monotonic() < until:
        try:
            os.kill(parent_pid, 0)
        except ProcessLookupError:
            break
        time.sleep(1)
    os._exit(1)


@signals.worker_init.connect
def _bound_worker(**_):
    parent = int(os.environ.get("AIAAS_PEER_PARENT", "0"))
    if parent:
        deadline = float(os.environ.get("AIAAS_PEER_DEADLINE_SECONDS", "1200"))
        threading.Thread(target=_exit_with, args=(parent, deadline), daemon=True).start()


@signals.worker_process_init.connect
def _die_with_worker(**_):
    # A pool process dies with the worker that forked it (Linux PR_SET_PDEATHSIG = 1, SIGKILL = 9).
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, 9)
    except OSError:
        pass


def drive(model, records_path, timeout_seconds):
    with open(records_path, encoding="utf-8") as f:
        records = json.load(f)
    started = time.perf_counter()
    pending = ResultSet([predict.apply_async((model, r)) for r in records])
    outputs = pending.get(timeout=timeout_seconds, propagate=True)
    seconds = time.perf_counter() - started
    if len(outputs) != len(records):
        raise RuntimeError(f"{len(outputs)} results for {len(records)} jobs")
    print(json.dumps({"jobs": len(records), "seconds": seconds, "first": outputs[0]}), flush=True)


if __name__ == "__main__":
    drive(sys.argv[1], sys.argv[2], float(sys.argv[3]) if len(sys.argv) > 3 else 300)
