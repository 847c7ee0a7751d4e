"""Knowledge distillation: a frozen teacher's outputs as extra training signal.

Three parts: ``kernels`` (the fused soft-target and reverse KL, and the hard-label CE made
in the soft-target KL's pass), ``methods`` (vanilla, distilgpt2, pkd, minilm, annealing,
rail, reverse_kl: each its paper's term and CE weight) and ``distiller`` (the training
objective that runs student and teacher and adds the methods' terms to the CE).
"""
