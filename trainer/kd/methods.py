"""The distillation methods: one small class each, registered in ``KD_LOSSES`` by ``--kd`` name.

A method gives its distillation term (``term``), already weighted as its paper does, and the
weight it gives the ordinary hard-label cross-entropy (``ce_weight``; None when it has no
opinion: pkd, minilm and rail are auxiliary terms added to whatever else trains the student).
How the distiller combines them is in trainer/kd/distiller.py.

Conventions, shared by every method: token-level terms are means over the batch's tokens;
logits are compared over the shards' real vocabulary (the rows a rounded-up embedding adds
are never targets); ``hidden`` is what Hugging Face returns with output_hidden_states: the
embeddings, the outputs of blocks 0..L-2, and ln_f applied to the output of the last block.
Intermediate-layer methods (pkd, rail) therefore map student blocks 0..L_s-2 to teacher
blocks 0..L_t-2, leaving the last block to the logit terms, as PKD does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor
from transformers import GPT2LMHeadModel

from trainer.errors import TrainerError
from trainer.kd.kernels import fp32_scaled, reverse_kl, soft_kl, soft_kl_with_ce

# --- what the methods see of a step --------------------------------------------------------


@dataclass(frozen=True)
class KDOptions:
    """The documented knobs (--kd-temperature, --kd-alpha, --kd-beta, --kd-anneal-fraction)."""

    temperature: float | None = None  # None: each method's own default
    alpha: float = 0.5  # vanilla, reverse_kl: weight of the distillation term
    beta: float = 100.0  # pkd, rail: weight of the hidden-state term
    anneal_fraction: float = 2 / 3  # annealing: share of the steps spent in phase 1


@dataclass(frozen=True)
class Shapes:
    """What the methods need to know about the two models before training."""

    student_layers: int
    teacher_layers: int
    student_width: int
    teacher_width: int
    student_heads: int
    teacher_heads: int
    keep_layers: list[int] | None = None  # student block i is a copy of teacher block keep[i]

    @staticmethod
    def of(student: GPT2LMHeadModel, teacher: GPT2LMHeadModel, keep: list[int] | None) -> Shapes:
        s, t = student.config, teacher.config
        return Shapes(s.n_layer, t.n_layer, s.n_embd, t.n_embd, s.n_head, t.n_head, keep)


@dataclass
class Outputs:
    """What the losses read from one forward pass, of the student or of the teacher."""

    logits: Tensor  # (B, T, V), V the shards' vocabulary
    hidden: tuple[Tensor, ...] = ()  # (B, T, D) each: embeddings, blocks 0..L-2, ln_f(last)
    qkv: tuple[Tensor, Tensor, Tensor] | None = None  # last block's (B, H, T, d) q, k, v


@dataclass
class HardTargets:
    """The step's weighted next-token cross-entropy, ``weight * CE``, made once.

    Either the first soft-target KL over the same logits makes it in its own pass over them
    (:meth:`Batch.soft_kl`): ``value`` is then a detached tensor, the KL term's gradient
    carrying the CE's; or :meth:`weighted` computes it with F.cross_entropy.
    """

    logits: Tensor  # (B, T, V_model) fp32: the student's logits, every column
    targets: Tensor  # (B, T) next-token ids
    weight: float  # the CE's weight in the training loss
    label_smoothing: float = 0.0
    value: Tensor | None = None  # the CE (mean over tokens, unweighted)

    def weighted(self) -> tuple[Tensor, Tensor]:
        """(weight * CE to add to the training loss, CE to log)."""
        if self.value is None:
            self.value = F.cross_entropy(
                self.logits.reshape(-1, self.logits.size(-1)),
                self.targets.reshape(-1),
                label_smoothing=self.label_smoothing,
            )
        return self.weight * self.value, self.value


@dataclass
class Batch:
    """One training step as the methods see it."""

    student: Outputs
    teacher: Outputs
    step: int = 0  # 0-based index of the optimizer update
    total_steps: int = 1
    hard: HardTargets | None = None  # set by the distiller; methods reach it via soft_kl

    def soft_kl(self, temperature: float, weight: float) -> Tensor:
        """weight * soft_kl(student logits, teacher logits, temperature).

        When the step's CE is still to be made over these very logits (no rounded-up
        vocabulary columns), it is made in the same pass, and the term returned carries its
        gradient (see :class:`HardTargets`): on CPU each [B, T, V] pass counts.
        """
        hard, s, t = self.hard, self.student.logits, self.teacher.logits
        if hard is None or hard.value is not None or hard.logits is not s:
            return soft_kl(s, t, temperature, weight)
        kl, hard.value = soft_kl_with_ce(
            s, t, temperature, weight, hard.targets, hard.label_smoothing, hard.weight
        )
        return kl


# --- the shared formulas -------------------------------------------------------------------


def unit_mse(student: Tensor, teacher: Tensor) -> Tensor:
    """Mean squared error between L2-normalised vectors (along the last dim), PKD-style."""
    s = F.normalize(student.float(), dim=-1)
    t = F.normalize(teacher.float(), dim=-1)
    return F.mse_loss(s, t)


def log_relation(a: Tensor, b: Tensor) -> Tensor:
    """Causal log softmax(a b^T / sqrt(d)) over keys <= query, (B, H, T, T); masked = 0."""
    scores = (a @ b.transpose(-1, -2)).float() / math.sqrt(a.size(-1))
    n = scores.size(-1)
    causal = torch.ones(n, n, dtype=torch.bool, device=scores.device).tril()
    logp = scores.masked_fill(~causal, float("-inf")).log_softmax(-1)
    return logp.masked_fill(~causal, 0.0)


def relation_kl(
    teacher_a: Tensor, teacher_b: Tensor, student_a: Tensor, student_b: Tensor
) -> Tensor:
    """KL(teacher || student) of causal softmax(a b^T / sqrt(d)) relations, MiniLM-style.

    Each tensor is (B, H, T, d) (d may differ between teacher and student); the KL is
    summed over keys and averaged over batch, heads and queries.
    """
    log_t, log_s = log_relation(teacher_a, teacher_b), log_relation(student_a, student_b)
    p_t = log_t.exp().tril()  # masked entries hold log 0 -> exp 1; tril zeroes them
    return (p_t * (log_t - log_s)).sum(-1).mean()


# --- the methods ---------------------------------------------------------------------------


class KDLoss:
    """One distillation method. Subclasses set ``name`` and implement ``term`` and, when the
    method weighs the hard-label cross-entropy, ``ce_weight``.

    The CE weight is asked before any term is computed, so the step's CE can be made in the
    same pass over the logits as a soft-target KL (:meth:`Batch.soft_kl`).
    """

    name: ClassVar[str]
    needs_hidden: ClassVar[bool] = False  # wants Outputs.hidden
    needs_qkv: ClassVar[bool] = False  # wants Outputs.qkv
    compares_hidden: ClassVar[bool] = False  # student and teacher widths must be equal
    default_temperature: ClassVar[float] = 1.0

    def __init__(self, opts: KDOptions, shapes: Shapes, seed: int = 0) -> None:
        self.opts = opts
        self.shapes = shapes
        if opts.temperature is not None and not opts.temperature > 0:
            raise TrainerError(f"--kd-temperature must be > 0, got {opts.temperature}")
        self.temperature = (
            self.default_temperature if opts.temperature is None else opts.temperature
        )
        if self.compares_hidden and shapes.student_width != shapes.teacher_width:
            raise TrainerError(
                f"--kd {self.name} compares hidden states, so the teacher's width must equal "
                f"the student's: teacher n_embd {shapes.teacher_width}, student "
                f"{shapes.student_width}"
            )

    def ce_weight(self, step: int, total_steps: int) -> float | None:
        """The weight this method gives the hard-label CE at 0-based ``step``; None: none."""
        del step, total_steps
        return None

    def term(self, batch: Batch) -> Tensor:
        """The weighted distillation term."""
        raise NotImplementedError

    def __call__(self, batch: Batch) -> tuple[Tensor, float | None]:
        """(weighted distillation term, weight of the hard-label CE or None)."""
        return self.term(batch), self.ce_weight(batch.step, batch.total_steps)

    def state_dict(self) -> dict[str, Any]:
        """Random state to checkpoint (only rail has any)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        del state


class Vanilla(KDLoss):
    """Hinton, Vinyals & Dean 2015, "Distilling the Knowledge in a Neural Network".

    alpha * T^2 * KL(p_teacher^T || p_student^T) + (1 - alpha) * CE; T^2 keeps the soft
    term's gradients on the scale of the hard one's as T changes.
    """

    name = "vanilla"
    default_temperature = 2.0

    def ce_weight(self, step: int, total_steps: int) -> float | None:
        return 1.0 - self.opts.alpha

    def term(self, batch: Batch) -> Tensor:
        t = self.temperature
        return batch.soft_kl(t, self.opts.alpha * t * t)


class DistilGPT2(KDLoss):
    """Sanh et al. 2019 (DistilBERT; DistilGPT-2 was trained the same way): triple loss.

    As in the authors' distiller (transformers/examples/research_projects/distillation):
    5 * T^2 * KL (T = 2) + 2 * CLM cross-entropy + 1 * (1 - cos) between the student's and
    teacher's last hidden states. Those weights are fixed; --kd-temperature overrides T.
    """

    name = "distilgpt2"
    needs_hidden = True
    compares_hidden = True
    default_temperature = 2.0
    ALPHA_CE, ALPHA_CLM, ALPHA_COS = 5.0, 2.0, 1.0

    def ce_weight(self, step: int, total_steps: int) -> float | None:
        return self.ALPHA_CLM

    def term(self, batch: Batch) -> Tensor:
        t = self.temperature
        kl = batch.soft_kl(t, self.ALPHA_CE * t * t)
        s_last, t_last = batch.student.hidden[-1].float(), batch.teacher.hidden[-1].float()
        cos = 1.0 - F.cosine_similarity(s_last, t_last, dim=-1).mean()
        return kl + self.ALPHA_COS * cos


class PatientKD(KDLoss):
    """Sun et al. 2019, "Patient Knowledge Distillation for BERT Model Compression".

    beta * MSE of L2-normalised intermediate hidden states, per token (a decoder has no
    [CLS], so every position plays its part) on mapped layers: student block i <-> the
    block it was truncated from (--keep-layers, when the teacher is that checkpoint) or
    else PKD-Skip's uniform choice, teacher block (i + 1) * L_t / L_s - 1.
    """

    name = "pkd"
    needs_hidden = True
    compares_hidden = True

    def __init__(self, opts: KDOptions, shapes: Shapes, seed: int = 0) -> None:
        super().__init__(opts, shapes, seed)
        self.layer_map = intermediate_map(shapes, self.name)

    def term(self, batch: Batch) -> Tensor:
        s = torch.stack([batch.student.hidden[i + 1] for i in range(len(self.layer_map))])
        t = torch.stack([batch.teacher.hidden[j + 1] for j in self.layer_map])
        return self.opts.beta * unit_mse(s, t)


class MiniLM(KDLoss):
    """Wang et al. 2020, "MiniLM: Deep Self-Attention Distillation".

    KL(teacher || student) of the last layer's self-attention distributions plus KL of its
    value-value relations softmax(V V^T / sqrt(d)), both per head, so the teacher may be
    wider but must have as many heads. Attention probabilities are recomputed from the
    last block's input with its own ln_1 and c_attn (SDPA never materialises them).
    """

    name = "minilm"
    needs_qkv = True

    def __init__(self, opts: KDOptions, shapes: Shapes, seed: int = 0) -> None:
        super().__init__(opts, shapes, seed)
        if shapes.student_heads != shapes.teacher_heads:
            raise TrainerError(
                f"--kd minilm compares attention heads one to one: teacher n_head "
                f"{shapes.teacher_heads}, student {shapes.student_heads}"
            )

    def term(self, batch: Batch) -> Tensor:
        assert batch.student.qkv is not None and batch.teacher.qkv is not None
        qs, ks, vs = batch.student.qkv
        qt, kt, vt = batch.teacher.qkv
        return relation_kl(qt, kt, qs, ks) + relation_kl(vt, vt, vs, vs)


class AnnealingKD(KDLoss):
    """Jafari et al. 2021, "Annealing Knowledge Distillation" (EACL).

    Phase 1 (the first --kd-anneal-fraction of the steps): MSE between the student's logits
    and the teacher's scaled by phi = k / T_max, k stepping 1..T_max in equal stages (the
    authors' code raises the temperature every epochs / max_temperature epochs; there,
    max_temperature = 10 and phases of 200 + 100 epochs, hence the defaults 10 and 2/3).
    No hard labels in phase 1; phase 2 is plain cross-entropy.
    """

    name = "annealing"
    default_temperature = 10.0

    def __init__(self, opts: KDOptions, shapes: Shapes, seed: int = 0) -> None:
        super().__init__(opts, shapes, seed)
        if self.temperature < 1:
            raise TrainerError("--kd-temperature for annealing (T_max) must be >= 1")
        if not 0 < opts.anneal_fraction <= 1:
            raise TrainerError("--kd-anneal-fraction must be in (0, 1]")

    def phi(self, step: int, total_steps: int) -> float | None:
        """The annealing factor for 0-based ``step``, or None once in phase 2."""
        phase1 = max(1, round(self.opts.anneal_fraction * total_steps))
        if step >= phase1:
            return None
        stages = int(self.temperature)
        return (step * stages // phase1 + 1) / stages

    def ce_weight(self, step: int, total_steps: int) -> float | None:
        return 0.0 if self.phi(step, total_steps) is not None else 1.0  # no labels in phase 1

    def term(self, batch: Batch) -> Tensor:
        phi = self.phi(batch.step, batch.total_steps)
        s = batch.student.logits.float()
        if phi is None:
            return s.new_zeros(())
        return F.mse_loss(s, fp32_scaled(batch.teacher.logits, phi))


class RailKD(KDLoss):
    """Haidar et al. 2022, "RAIL-KD: RAndom Intermediate Layer Mapping for KD" (NAACL).

    Each step draws as many teacher intermediate blocks as the student has, without
    replacement, sorts them and maps them in order; the term is beta * the mean over layers
    of the MSE between L2-normalised mean-pooled (over positions) hidden states. The draw
    uses its own seeded generator, checkpointed with the run.
    """

    name = "rail"
    needs_hidden = True
    compares_hidden = True

    def __init__(self, opts: KDOptions, shapes: Shapes, seed: int = 0) -> None:
        super().__init__(opts, shapes, seed)
        self.n_student = shapes.student_layers - 1
        self.n_teacher = shapes.teacher_layers - 1
        if self.n_student < 1 or self.n_teacher < self.n_student:
            raise TrainerError(
                f"--kd rail maps student blocks 0..L-2 to as many teacher blocks: needs a "
                f"student of >= 2 layers and a teacher at least as deep (student "
                f"{shapes.student_layers}, teacher {shapes.teacher_layers})"
            )
        self.generator = torch.Generator().manual_seed(seed)

    def draw(self) -> list[int]:
        chosen = torch.randperm(self.n_teacher, generator=self.generator)[: self.n_student]
        return sorted(chosen.tolist())

    def term(self, batch: Batch) -> Tensor:
        mapping = self.draw()
        s = torch.stack([batch.student.hidden[i + 1].mean(1) for i in range(self.n_student)])
        t = torch.stack([batch.teacher.hidden[j + 1].mean(1) for j in mapping])
        return self.opts.beta * unit_mse(s, t)

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])


class ReverseKL(KDLoss):
    """Gu et al. 2023, "MiniLLM: Knowledge Distillation of Large Language Models".

    The simple word-level variant of MiniLLM's objective: alpha * mean over tokens of the
    reverse KL(q_student || p_teacher), mode-seeking where forward KL is mode-covering,
    plus (1 - alpha) * CE (MiniLLM itself optimises the sequence-level reverse KL with
    policy gradients, which needs sampling and is not done here).
    """

    name = "reverse_kl"

    def ce_weight(self, step: int, total_steps: int) -> float | None:
        return 1.0 - self.opts.alpha

    def term(self, batch: Batch) -> Tensor:
        return reverse_kl(batch.student.logits, batch.teacher.logits, self.opts.alpha)


KD_LOSSES: dict[str, type[KDLoss]] = {
    cls.name: cls
    for cls in (Vanilla, DistilGPT2, PatientKD, MiniLM, AnnealingKD, RailKD, ReverseKL)
}


def intermediate_map(shapes: Shapes, method: str) -> list[int]:
    """Teacher block for each student block 0..L_s-2 (the last block is left to logits)."""
    n_s, n_t = shapes.student_layers, shapes.teacher_layers
    if n_s < 2:
        raise TrainerError(f"--kd {method} needs a student of at least 2 layers, got {n_s}")
    keep = shapes.keep_layers
    if keep is not None:
        return keep[:-1]
    if n_t < n_s:
        raise TrainerError(
            f"--kd {method}: the teacher ({n_t} layers) must be at least as deep as the "
            f"student ({n_s})"
        )
    return [(i + 1) * n_t // n_s - 1 for i in range(n_s - 1)]


def parse_methods(spec: str) -> list[str]:
    """--kd METHOD[,METHOD...] -> known, distinct method names."""
    names = [name.strip() for name in spec.split(",") if name.strip()]
    if not names:
        raise TrainerError("--kd: give at least one method")
    for name in names:
        if name not in KD_LOSSES:
            raise TrainerError(f"--kd {name}: unknown method; known: {', '.join(KD_LOSSES)}")
    if len(set(names)) != len(names):
        raise TrainerError(f"--kd {spec}: a method is listed twice")
    return names
