"""``--executor ray``: the local executor's bytes on a local Ray instance and on a two-node
cluster, through a worker killed mid-task and a driver killed mid-run.

Every corpus-wide step is in the rules (exact, line and MinHash deduplication with
verification, and ``min_tokens`` training the run's tokenizer), so every distributed stage
runs. Ray is started with ``num_cpus=2`` and no dashboard, and shut down after each test.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from corpusclean.cli import main
from corpusclean.sample import write_sample

ray = pytest.importorskip("ray")

RULES = {
    "version": 1,
    "steps": [
        {"unicode_repair": {}},
        {"language": {"keep": ["en"]}},
        {"exact_dedup": {}},
        {"gopher_quality": {}},
        {"line_dedup": {"min_count": 3}},
        {"minhash_dedup": {"verify": True}},
        {"min_tokens": {"min": 64}},
    ],
    "tokenize": {"tokenizer": {"train": {"vocab_size": 512}}, "val_fraction": 0.1},
}
#: stats.json fields that are timings or say how the run was executed.
RUN_FIELDS = {"seconds", "workers", "executor"}


def _comparable_stats(out: Path) -> dict:
    stats = json.loads((out / "stats.json").read_text())

    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in RUN_FIELDS}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return strip(stats)


def _digest(out: Path) -> dict[str, str]:
    files = {}
    for sub in ("documents", "rejected", "errors", "tokens"):
        for path in sorted((out / sub).rglob("*")):
            if path.is_file():
                files[str(path.relative_to(out))] = hashlib.sha256(path.read_bytes()).hexdigest()
    files["tokenizer.json"] = hashlib.sha256((out / "tokenizer.json").read_bytes()).hexdigest()
    return files


def assert_same_output(a: Path, b: Path) -> None:
    assert _digest(a) == _digest(b)
    assert _comparable_stats(a) == _comparable_stats(b)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    """The rules, and the embedded sample cut into three input files (plus a bad line)."""
    folder = tmp_path_factory.mktemp("ray-input")
    sample = folder / "sample.jsonl"
    write_sample(sample, docs=900, seed=5)
    lines = sample.read_text().splitlines()
    inputs = []
    for k in range(3):
        path = folder / f"part-{k}.jsonl"
        chunk = lines[k * 300 : (k + 1) * 300]
        if k == 1:
            chunk.insert(7, "{not json")  # an unreadable record: errors/ must match too
        path.write_text("\n".join(chunk) + "\n")
        inputs.append(path)
    rules = folder / "rules.yaml"
    rules.write_text(json.dumps(RULES))
    return rules, inputs


def _args(corpus: tuple[Path, list[Path]], out: Path, *extra: str) -> list[str]:
    rules, inputs = corpus
    return ["run", str(rules), "--input", *map(str, inputs), "--output", str(out), *extra]


@pytest.fixture(scope="module")
def local_out(corpus: tuple[Path, list[Path]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("local") / "out"
    assert main([*_args(corpus, out), "--workers", "2", "--quiet"]) == 0
    stats = json.loads((out / "stats.json").read_text())
    assert stats["error_records"] == 1 and stats["kept_docs"] > 0
    removed = {s["name"]: s["rejected"] for s in stats["steps"]}
    assert removed["exact_dedup"] > 0 and removed["minhash_dedup"] > 0  # the stages had work
    return out


@pytest.fixture
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_local_ray_instance_gives_the_local_bytes(
    corpus: tuple[Path, list[Path]], local_out: Path, tmp_path: Path, local_ray: None
) -> None:
    out = tmp_path / "out"
    assert main([*_args(corpus, out), "--executor", "ray", "--workers", "2", "--quiet"]) == 0
    assert_same_output(local_out, out)
    assert json.loads((out / "stats.json").read_text())["executor"] == "ray"


def test_ray_with_limit_gives_the_local_bytes(
    corpus: tuple[Path, list[Path]], tmp_path: Path, local_ray: None
) -> None:
    outs = []
    for executor in ("local", "ray"):
        out = tmp_path / executor
        args = [*_args(corpus, out), "--limit", "450", "--quiet", "--executor", executor]
        assert main(args) == 0
        outs.append(out)
    stats = json.loads((outs[1] / "stats.json").read_text())
    assert stats["input_docs"] - stats["error_records"] == 450  # the limit counts documents
    assert_same_output(*outs)


def test_two_node_cluster_gives_the_local_bytes(
    corpus: tuple[Path, list[Path]], local_out: Path, tmp_path: Path
) -> None:
    from ray.cluster_utils import Cluster

    cluster = Cluster(
        initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False}
    )
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, log_to_driver=False)
        assert len([n for n in ray.nodes() if n["Alive"]]) == 2
        out = tmp_path / "out"
        args = [*_args(corpus, out), "--executor", "ray", "--address", cluster.address]
        assert main([*args, "--quiet"]) == 0
        assert_same_output(local_out, out)
    finally:
        ray.shutdown()
        cluster.shutdown()


def _busy_ray_workers() -> list[int]:
    """Pids of Ray worker processes cleaning a batch or a file (a worker's title is ``ray::``
    and the task's function: ``ray::process_split``, ``ray::process_part``; Ray's own agents
    are ``ray::`` too, and must be left alone)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if cmdline.startswith(b"ray::process_"):
                pids.append(int(entry.name))
    return pids


def test_a_worker_killed_mid_task_changes_nothing(
    corpus: tuple[Path, list[Path]], local_out: Path, tmp_path: Path, local_ray: None
) -> None:
    killed: list[int] = []
    done = threading.Event()

    def killer() -> None:
        while not done.is_set() and not killed:
            pids = _busy_ray_workers()
            if pids:
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])
            time.sleep(0.02)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    out = tmp_path / "out"
    try:
        assert main([*_args(corpus, out), "--executor", "ray", "--quiet"]) == 0
    finally:
        done.set()
        thread.join()
    assert killed, "no Ray worker was caught running a task"
    assert_same_output(local_out, out)


def test_a_driver_killed_mid_run_resumes(
    corpus: tuple[Path, list[Path]], local_out: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    command = [
        sys.executable,
        "-m",
        "corpusclean",
        *_args(corpus, out),
        "--executor",
        "ray",
        "--workers",
        "2",
        "--quiet",
    ]
    driver = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL)
    state = out / "_work" / "state.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and driver.poll() is None:
        if state.is_file() and json.loads(state.read_text())["finished"] >= 1:
            break
        time.sleep(0.05)
    assert driver.poll() is None, "the run ended before it could be killed"
    os.killpg(driver.pid, signal.SIGKILL)  # the driver and the Ray instance it started
    driver.wait()
    first_pass = {
        p: p.stat().st_mtime_ns for p in (out / "rejected").glob("part-???????-???????.parquet")
    }
    assert first_pass and not (out / "stats.json").exists()
    finished = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    # resumed: pass 1's parts were not written again
    assert {p: p.stat().st_mtime_ns for p in first_pass} == first_pass
    assert_same_output(local_out, out)
