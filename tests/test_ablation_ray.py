"""``--executor ray``: every (variant, seed) run a Ray task, with the numbers of a local run.

The ablation test lets ``corpusclean ablate`` start (and stop) its own local Ray instance, the
way a user's run does; the job-runner tests share one instance started here.
"""

from __future__ import annotations

import json
import operator
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from corpusclean.cli import main as corpusclean_main
from corpusclean.sample import write_eval_text, write_sample
from tests.test_ablation import MODEL, RULES_TEXT
from trainer.cli import main as trainer_main
from trainer.device import resolve_device
from trainer.errors import TrainerError
from trainer.ray_runs import RAY_MISSING, run_jobs

ray = pytest.importorskip("ray")


def _without_timings(value: Any) -> Any:
    """The document less its wall-clock fields (the only ones two executors may differ in)."""
    if isinstance(value, dict):
        return {k: _without_timings(v) for k, v in value.items() if not k.endswith("seconds")}
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


def _ablation_json(out: Path) -> dict[str, Any]:
    """ablation.json with the run's own output folder written as OUT, so two folders compare."""
    text = (out / "ablation.json").read_text(encoding="utf-8")
    return _without_timings(json.loads(text.replace(str(out), "OUT")))


def test_ray_executor_gives_the_local_numbers(tmp_path: Path, capsys) -> None:
    if ray.is_initialized():  # another test's instance: this one is about starting our own
        ray.shutdown()
    corpus = tmp_path / "corpus.jsonl"
    write_sample(corpus, docs=300, seed=11)
    eval_text = tmp_path / "eval.txt"
    write_eval_text(eval_text)
    rules = tmp_path / "small.yaml"
    rules.write_text(RULES_TEXT, encoding="utf-8")
    model = tmp_path / "model.json"
    model.write_text(json.dumps(MODEL), encoding="utf-8")

    # At this budget a task on 1 thread would already differ (clean, seed 1, first curve
    # point: 446.36300 vs 446.36306 on 2 threads here): the comparison below can fail.
    def ablate(out: Path, *more: str) -> None:
        args = [
            "ablate", str(rules), "--input", str(corpus), "--eval", str(eval_text),
            "--out", str(out), "--tokens", "1024", "--seeds", "2", "--curve-points", "2",
            "--model", str(model), "--batch-size", "4", "--block-size", "32",
            "--eval-tokens", "1000", "--workers", "1", "--device", "cpu", *more,
        ]  # fmt: skip
        assert corpusclean_main(args) == 0

    ablate(tmp_path / "local")
    capsys.readouterr()
    ablate(tmp_path / "ray", "--executor", "ray")
    said = capsys.readouterr().out
    assert "4 runs as Ray tasks on a local Ray instance" in said
    assert not ray.is_initialized()  # the instance it started is shut down again

    local, on_ray = _ablation_json(tmp_path / "local"), _ablation_json(tmp_path / "ray")
    assert list(on_ray["variants"]) == ["raw", "clean"]
    for variant in on_ray["variants"].values():
        assert all(not run["reused"] for run in variant["runs"].values())
        assert all(len(run["points"]) == 3 for run in variant["runs"].values())
    # every loss-derived number (perplexities at each curve point, means, spreads, verdicts)
    # and every hash equal to the last bit; only the timings may differ
    assert on_ray == local
    records = sorted((tmp_path / "ray").glob("runs/*/seed-*/ablation_run.json"))
    assert len(records) == 4
    assert all(json.loads(p.read_text())["finished"] for p in records)

    # finished runs are reused in the driver: no Ray instance is started for them
    ablate(tmp_path / "ray", "--executor", "ray")
    said = capsys.readouterr().out
    assert "Ray tasks" not in said
    assert len(re.findall(r"seed \d: reusing the finished run", said)) == 4
    reused = _ablation_json(tmp_path / "ray")
    for variant in reused["variants"].values():
        for run in variant["runs"].values():
            assert run.pop("reused") is True
            run["reused"] = False
    assert reused == local


@pytest.fixture(scope="module")
def ray_instance() -> Iterator[None]:
    """One local instance of 2 CPUs for the job-runner tests (run_jobs then leaves it up)."""
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=40)
    yield
    if started:
        ray.shutdown()


def test_results_in_submission_order_one_thread_per_cpu_share(ray_instance: None) -> None:
    finished: list[int] = []
    jobs = [
        (subprocess.getoutput, ("sleep 4; echo slow",)),  # finishes after the next one
        (subprocess.getoutput, ("echo quick",)),
        (torch.get_num_threads, ()),
    ]
    results = run_jobs(jobs, on_done=lambda index, result: finished.append(index))
    assert results == ["slow", "quick", 1]  # one CPU per task: one PyTorch thread
    assert sorted(finished) == [0, 1, 2] and finished.index(1) < finished.index(0)
    assert ray.is_initialized()  # not ours to shut down
    assert run_jobs([]) == []
    # a local run's thread count as the share: the same arithmetic as the local run
    assert run_jobs([(torch.get_num_threads, ())], cpus_per_job=2) == [2]
    with pytest.raises(TrainerError, match="needs 3 CPUs .* the largest node .* has 2"):
        run_jobs([(torch.get_num_threads, ())], cpus_per_job=3)


def test_a_failing_job_raises_its_own_exception(ray_instance: None) -> None:
    with pytest.raises(ZeroDivisionError) as caught:
        run_jobs([(operator.truediv, (1, 2)), (operator.truediv, (1, 0))])
    assert type(caught.value) is ZeroDivisionError  # not Ray's RayTaskError subclass
    (note,) = caught.value.__notes__  # where it happened: the task's own traceback
    assert note.startswith("raised in a Ray task") and "ZeroDivisionError" in note
    with pytest.raises(TrainerError, match="--device tpu: expected auto, cpu or cuda") as caught:
        run_jobs([(resolve_device, ("tpu",))])
    assert type(caught.value) is TrainerError


def test_without_ray_the_message_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the extra were not installed
    with pytest.raises(TrainerError, match=r"pip install 'corpusclean\[ray\]'"):
        run_jobs([(operator.truediv, (1, 2))])
    base = ["ablate", "--variant", f"a={tmp_path}", "--eval", str(tmp_path / "e.txt")]
    base += ["--out", str(tmp_path / "out")]
    assert trainer_main([*base, "--executor", "ray"]) == 2
    assert RAY_MISSING in capsys.readouterr().err
    assert trainer_main([*base, "--address", "auto"]) == 2
    assert "--address names a Ray cluster: it needs --executor ray" in capsys.readouterr().err
