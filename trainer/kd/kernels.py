"""The fused logit KLs of distillation: autograd functions that make their gradient in forward.

On a CPU the step's cost after the two forwards is passes over [B, T, V] logits, so the logit
KLs are fused autograd functions working on row chunks, and the CE is made in the soft-target
KL's pass when it can be (docs/design.md, "Distillation on a CPU"). Each works in fp32 at
least (fp64 stays fp64, for gradcheck; bf16 logits under autocast are upcast) and gives the
teacher no gradient.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor


def _at_least_fp32(x: Tensor) -> Tensor:
    """x itself when fp32 or fp64, else upcast to fp32 (bf16 logits under autocast)."""
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


def fp32_scaled(logits: Tensor, scale: float) -> Tensor:
    """A fresh tensor logits * scale, in fp32 at least (fp64 stays fp64, bf16 is upcast)."""
    if logits.dtype in (torch.float32, torch.float64):
        return logits * scale if scale != 1.0 else logits.clone()
    return logits.float().mul_(scale)


def _softmax_and_logsumexp(x: Tensor) -> tuple[Tensor, Tensor]:
    """softmax(x) and logsumexp(x) over the last dim, in one fused pass plus two reductions.

    The row maxima of x and of softmax(x) sit at the same index, where softmax(x) =
    exp(max - lse): lse = max(x) - log(max(softmax(x))), with max(softmax) >= 1 / V so
    the log is well conditioned. Cheaper than torch.logsumexp's own passes and
    allocations; each [B, T, V] pass counts in a distillation step on CPU.
    """
    p = torch.softmax(x, dim=-1)
    return p, x.amax(-1) - p.amax(-1).log()


ROWS_PER_CHUNK = 64
"""Rows of logits a fused KL works on at a time. 64 rows of an 8192-word vocabulary are 2 MB
per fp32 temporary, so the half-dozen passes each chunk makes stay in cache instead of
streaming [B, T, V] tensors through memory; measured on 2 cores for 2048 x 8192 logits,
forward and backward, with glibc's default malloc (a fresh mmap per [B, T, V] tensor): 0.19 s
unchunked, 0.075 s in chunks of 64 (32 and 128 within 7%). Under the trainer's
``reuse_freed_memory`` most of that gap is page faults the allocator no longer pays; there
the chunked KL plus the fused CE cost 77-90 ms against 90-100 ms for the KL and
F.cross_entropy apart (``python benchmarks/trainer.py`` shows the step-level effect)."""


def _rows(x: Tensor) -> Tensor:
    """x as [rows, V]: a view for contiguous logits and for their vocabulary-prefix slices."""
    return x.reshape(-1, x.size(-1))


def _row_chunks(rows: int) -> list[slice]:
    return [slice(i, min(i + ROWS_PER_CHUNK, rows)) for i in range(0, rows, ROWS_PER_CHUNK)]


def _scaled_once(grad: Tensor, grad_output: Tensor) -> Tensor:
    """grad * grad_output, or grad itself when grad_output is 1.

    The fused losses leave d (weight * loss) / d logits, already divided by the row count,
    for backward; a term added to the training loss gets an upstream gradient of exactly 1,
    and then that tensor is the gradient as it stands: no [B, T, V] pass and allocation
    (the term's weight was folded in forward). ``.item()`` is a device sync on CUDA, so the
    shortcut is taken on CPU only.
    """
    if grad_output.device.type == "cpu" and grad_output.item() == 1.0:
        return grad
    return grad * grad_output


class _SoftTargetKL(torch.autograd.Function):
    """weight * mean over rows of KL(softmax(t / T) || softmax(s / T)); the gradient made in
    forward, optionally carrying that of ce_weight * CE(s, y) too.

    Per row, with p = softmax(t / T) and q = softmax(s / T),
    KL = sum_v p (t - s) / T - lse(t / T) + lse(s / T) (as sum p = 1), and
    d KL / d s = (q - p) / T (Hinton et al. 2015, section 2), so forward leaves exactly q - p
    for backward instead of autograd's chain through division, log_softmax and kl_div.

    With targets y, the hard cross-entropy with label smoothing e, lse(s) - (1 - e) s_y -
    e mean_v s_v, of gradient softmax(s) - (1 - e) onehot(y) - e / V, is made from the same
    rows while they are in cache, and ce_weight times its gradient is added to the KL's:
    the first output's value is the KL term alone, its gradient that of KL term + ce_weight
    * CE; the second output is the CE's value, without gradient. That saves F.cross_entropy's
    log-probability tensor, its backward pass and the sum of the two [B, T, V] gradients.
    """

    @staticmethod
    def forward(
        ctx: Any,
        student: Tensor,
        teacher: Tensor,
        temperature: float,
        weight: float,
        targets: Tensor | None,
        label_smoothing: float,
        ce_weight: float,
    ) -> tuple[Tensor, Tensor]:
        s_rows, t_rows = _rows(student), _rows(teacher)
        n, vocab = s_rows.shape
        dtype = torch.promote_types(student.dtype, torch.float32)  # fp64 stays fp64 (gradcheck)
        grad = torch.empty(s_rows.shape, dtype=dtype, device=student.device)
        y = targets.reshape(-1, 1) if targets is not None else None
        kl_total = torch.zeros((), dtype=torch.float64, device=student.device)
        ce_total = torch.zeros((), dtype=torch.float64, device=student.device)
        # For an integer temperature T (2, the default of vanilla and distilgpt2),
        # softmax(s) = q^T / sum q^T with q = softmax(s / T), and lse(s) = T lse(s / T) +
        # log sum q^T: the CE needs no exp pass of its own.
        power = int(temperature) if float(temperature).is_integer() and temperature <= 4 else 0
        for rows in _row_chunks(n):
            t_scaled = fp32_scaled(t_rows[rows], 1.0 / temperature)
            p_t, lse_t = _softmax_and_logsumexp(t_scaled)
            s_scaled = fp32_scaled(s_rows[rows], 1.0 / temperature)
            q_s, lse_s = _softmax_and_logsumexp(s_scaled)
            cross = torch.linalg.vecdot(p_t, t_scaled.sub_(s_scaled))  # sum_v p (t - s) / T
            kl_total += (cross - lse_t + lse_s).sum()
            g = torch.sub(q_s, p_t, out=grad[rows]).mul_(weight / (temperature * n))
            if y is None:
                continue
            logits = _at_least_fp32(s_rows[rows])
            if power:
                q = q_s if power == 1 else q_s.pow_(power)  # q_s is not needed any more
                q_total = q.sum(-1, keepdim=True)
                lse = power * lse_s + q_total.squeeze(-1).log()
                g.addcmul_(q, q_total.reciprocal_(), value=ce_weight / n)
            else:
                q, lse = _softmax_and_logsumexp(logits)
                g.add_(q, alpha=ce_weight / n)
            picked = logits.gather(1, y[rows])
            ce = lse - (1 - label_smoothing) * picked.squeeze(1)
            if label_smoothing:
                ce -= label_smoothing * logits.mean(-1)
            ce_total += ce.sum()
            if label_smoothing:
                g.sub_(ce_weight * label_smoothing / (vocab * n))
            g.scatter_add_(
                1, y[rows], picked.new_full(picked.shape, -ce_weight * (1 - label_smoothing) / n)
            )
        ctx.save_for_backward(grad)
        ctx.input_shape, ctx.input_dtype = student.shape, student.dtype
        ce_value = (ce_total / n).to(dtype)
        ctx.mark_non_differentiable(ce_value)
        return (kl_total * weight / n).to(dtype), ce_value

    @staticmethod
    def backward(
        ctx: Any, grad_kl: Tensor, grad_ce: Tensor
    ) -> tuple[Tensor, None, None, None, None, None, None]:
        del grad_ce  # the CE output has no gradient of its own: the KL term carries it
        (grad,) = ctx.saved_tensors
        grad = _scaled_once(grad, grad_kl)
        return grad.view(ctx.input_shape).to(ctx.input_dtype), None, None, None, None, None, None


class _ReverseKL(torch.autograd.Function):
    """Mean over rows of KL(softmax(s) || softmax(t)), the gradient made in forward.

    With q = softmax(s), p = softmax(t) and r = sum_v q (log q - log p) per row,
    d r / d s_v = q_v (log q_v - log p_v - r) (the softmax Jacobian applied to
    log q - log p + 1): one fused expression in place of autograd's chain.
    """

    @staticmethod
    def forward(ctx: Any, student: Tensor, teacher: Tensor, weight: float) -> Tensor:
        s_rows, t_rows = _rows(student), _rows(teacher)
        n = s_rows.size(0)
        dtype = torch.promote_types(student.dtype, torch.float32)  # fp64 stays fp64 (gradcheck)
        grad = torch.empty(s_rows.shape, dtype=dtype, device=student.device)
        total = torch.zeros((), dtype=torch.float64, device=student.device)
        for rows in _row_chunks(n):
            log_ratio = F.log_softmax(_at_least_fp32(s_rows[rows]), dim=-1)  # log q
            q_s = log_ratio.exp()
            log_ratio.sub_(F.log_softmax(_at_least_fp32(t_rows[rows]), dim=-1))  # log q - log p
            per_row = torch.linalg.vecdot(q_s, log_ratio)  # r, without a [B, T, V] product
            total += per_row.sum()
            out = grad[rows]
            torch.sub(log_ratio, per_row.unsqueeze(-1), out=out).mul_(q_s).mul_(weight / n)
        ctx.save_for_backward(grad)
        ctx.input_shape, ctx.input_dtype = student.shape, student.dtype
        return (total * weight / n).to(dtype)

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor, None, None]:
        (grad,) = ctx.saved_tensors
        grad = _scaled_once(grad, grad_output)
        return grad.view(ctx.input_shape).to(ctx.input_dtype), None, None


def soft_kl(
    student_logits: Tensor, teacher_logits: Tensor, temperature: float, weight: float = 1.0
) -> Tensor:
    """weight * mean over tokens of KL(softmax(t / T) || softmax(s / T)), summed over V.

    Computed in fp32 whatever the logits' dtype; no gradient flows to the teacher. Pass a
    term's weight here rather than multiplying the result: the backward is then free.
    """
    kl, _ = _SoftTargetKL.apply(
        student_logits, teacher_logits.detach(), temperature, weight, None, 0.0, 0.0
    )
    return kl


def soft_kl_with_ce(
    student_logits: Tensor,
    teacher_logits: Tensor,
    temperature: float,
    weight: float,
    targets: Tensor,
    label_smoothing: float,
    ce_weight: float,
) -> tuple[Tensor, Tensor]:
    """(weight * soft_kl, CE(student logits, targets)) made in one pass over the logits.

    The first value is the KL term alone; its gradient also carries ce_weight * CE's. The
    second is the CE (mean over tokens, with --label-smoothing), detached: add ce_weight
    times it to the loss for its value, its gradient being already in the KL term's.
    """
    return _SoftTargetKL.apply(
        student_logits,
        teacher_logits.detach(),
        temperature,
        weight,
        targets,
        label_smoothing,
        ce_weight,
    )


def reverse_kl(student_logits: Tensor, teacher_logits: Tensor, weight: float = 1.0) -> Tensor:
    """weight * mean over tokens of KL(softmax(s) || softmax(t)) (fp32; none to the teacher)."""
    return _ReverseKL.apply(student_logits, teacher_logits.detach(), weight)
