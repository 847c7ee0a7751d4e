"""The distiller: the training objective when a frozen teacher's outputs add to the signal.

The training loss is

    loss = w_ce * CE(student, next tokens; --label-smoothing) + sum of the methods' terms

with w_ce the largest CE weight any chosen method gives (trainer/kd/methods.py), or 1 when
none gives one, so ``--kd vanilla,pkd`` is Sun et al.'s full PKD objective ((1-a) CE + a T^2
KL + b PT). The CE is made once per step, in a soft-target KL's pass over the logits when it
can be (trainer/kd/kernels.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from transformers import GPT2LMHeadModel

from trainer.config import PretrainConfig
from trainer.data import Shards, check_token_ids
from trainer.errors import TrainerError
from trainer.kd.methods import (
    KD_LOSSES,
    Batch,
    HardTargets,
    KDLoss,
    KDOptions,
    Outputs,
    Shapes,
    parse_methods,
)
from trainer.student import fuse_gelu, load_gpt2

TEACHER_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def last_block_qkv(model: GPT2LMHeadModel, block_input: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The last block's per-head queries, keys and values, (B, H, T, d) each."""
    block = model.transformer.h[-1]
    q, k, v = block.attn.c_attn(block.ln_1(block_input)).split(model.config.n_embd, dim=2)
    b, t, _ = q.shape
    heads = model.config.n_head
    return tuple(z.view(b, t, heads, -1).transpose(1, 2) for z in (q, k, v))  # type: ignore[return-value]


@dataclass
class Distiller:
    """The training objective with a teacher: ``(model, x, y, step) -> (loss, parts)``.

    ``model`` is what runs the student's forward (possibly DDP-wrapped or compiled);
    ``student`` is the bare model, whose last block recomputes attention for minilm.
    """

    teacher: GPT2LMHeadModel
    student: GPT2LMHeadModel
    methods: list[KDLoss]
    vocab_size: int  # the shards' vocabulary: logits beyond it are ignored by the KD terms
    total_steps: int
    label_smoothing: float = 0.0
    needs_hidden: bool = field(init=False)
    needs_qkv: bool = field(init=False)

    def __post_init__(self) -> None:
        self.teacher.eval().requires_grad_(False)
        self.needs_qkv = any(m.needs_qkv for m in self.methods)
        self.needs_hidden = self.needs_qkv or any(m.needs_hidden for m in self.methods)

    def _outputs(self, model: Any, bare: GPT2LMHeadModel, x: Tensor) -> Outputs:
        out = model(input_ids=x, use_cache=False, output_hidden_states=self.needs_hidden)
        hidden = tuple(out.hidden_states) if self.needs_hidden else ()
        qkv = last_block_qkv(bare, hidden[-2]) if self.needs_qkv else None
        return Outputs(out.logits, hidden, qkv)

    def _real_vocab(self, logits: Tensor) -> Tensor:
        """The logits of the shards' ids only; the tensor itself when that is all of it.

        Not a full-width slice: its backward would allocate and copy a [B, T, V] gradient.
        """
        v = self.vocab_size
        return logits if logits.size(-1) == v else logits[..., :v]

    def __call__(
        self, model: Any, x: Tensor, y: Tensor, step: int
    ) -> tuple[Tensor, dict[str, Tensor]]:
        student = self._outputs(model, self.student, x)
        with torch.no_grad():
            teacher = self._outputs(self.teacher, self.teacher, x)
        # The student's logits are made fp32 once (a no-op in fp32; autocast leaves them in
        # bf16) and shared by the cross-entropy and every method; the teacher's stay as
        # they are, each method reading them in fp32 inside its own fused pass: every extra
        # pass over a [B, T, V] tensor shows in a distillation step on CPU.
        s_logits, t_logits = student.logits.float(), teacher.logits
        ce_weights = [
            w for m in self.methods if (w := m.ce_weight(step, self.total_steps)) is not None
        ]
        w_ce = max(ce_weights) if ce_weights else 1.0
        hard = HardTargets(s_logits, y, w_ce, self.label_smoothing)
        batch = Batch(
            Outputs(self._real_vocab(s_logits), student.hidden, student.qkv),
            Outputs(self._real_vocab(t_logits), teacher.hidden, teacher.qkv),
            step,
            self.total_steps,
            hard,
        )
        parts: dict[str, Tensor] = {}
        total = s_logits.new_zeros(())
        for method in self.methods:
            term = method.term(batch)
            parts[f"kd_{method.name}"] = term
            total = total + term
        weighted_ce, ce = hard.weighted()  # made in a soft-target KL's pass, or now
        return total + weighted_ce, {"ce": ce, **parts}

    def state_dict(self) -> dict[str, Any]:
        return {m.name: m.state_dict() for m in self.methods}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for method in self.methods:
            method.load_state_dict(state.get(method.name, {}))


def build_distiller(
    cfg: PretrainConfig,
    student: GPT2LMHeadModel,
    keep: list[int] | None,
    shards: Shards,
    dtype: torch.dtype,
    total_steps: int,
) -> Distiller | None:
    """Load the teacher and the --kd methods, checking they fit the student and shards.

    None without --teacher. The teacher's weights are in --teacher-dtype (auto: the
    training ``dtype``).
    """
    if cfg.teacher is None:
        if cfg.kd is not None:
            raise TrainerError("--kd needs --teacher HF_DIR")
        return None
    if cfg.teacher_dtype != "auto" and cfg.teacher_dtype not in TEACHER_DTYPES:
        raise TrainerError(f"--teacher-dtype {cfg.teacher_dtype}: expected auto, fp32, bf16, fp16")
    names = parse_methods(cfg.kd or "vanilla")
    teacher_dtype = dtype if cfg.teacher_dtype == "auto" else TEACHER_DTYPES[cfg.teacher_dtype]
    teacher = load_gpt2(cfg.teacher, "--teacher", dtype=teacher_dtype)
    fuse_gelu(teacher)  # same function, one kernel: the teacher is never trained nor saved
    manifest = shards.manifest
    if manifest.vocab_size > teacher.config.vocab_size:
        raise TrainerError(
            f"--teacher {cfg.teacher}: vocab {teacher.config.vocab_size} is smaller than the "
            f"shards' vocab_size {manifest.vocab_size}"
        )
    check_token_ids(shards, teacher.config.vocab_size)
    if cfg.block_size > teacher.config.n_positions:
        raise TrainerError(
            f"--block-size {cfg.block_size} exceeds --teacher {cfg.teacher}'s n_positions "
            f"{teacher.config.n_positions}"
        )
    # Student block i came from block keep[i] of --init: a layer map into the teacher only
    # when the teacher is that very checkpoint (else the methods map layers uniformly).
    same = cfg.init != "scratch" and Path(cfg.init).resolve() == Path(cfg.teacher).resolve()
    shapes = Shapes.of(student, teacher, keep if same else None)
    opts = KDOptions(cfg.kd_temperature, cfg.kd_alpha, cfg.kd_beta, cfg.kd_anneal_fraction)
    methods = [KD_LOSSES[name](opts, shapes, seed=cfg.seed) for name in names]
    return Distiller(
        teacher,
        student,
        methods,
        manifest.vocab_size,
        total_steps,
        label_smoothing=cfg.label_smoothing,
    )
