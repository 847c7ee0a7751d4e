"""A compact GPT-2 trainer used to measure what corpus cleaning is worth.

It reads nanoGPT-style token shards (train.bin / val.bin / manifest.json), pretrains a
Hugging Face ``GPT2LMHeadModel`` (from a config preset, a checkpoint, or a checkpoint
truncated to some of its layers), optionally distils it from a teacher (trainer.kd),
checkpoints and resumes runs exactly, trains data-parallel under torchrun, and evaluates
perplexity. It knows nothing about how the shards were cleaned: the shard layout is the
whole interface.
"""

__all__ = ["TrainerError"]

from trainer.errors import TrainerError
