"""A compact GPT-2 trainer used to measure what corpus cleaning is worth.

It reads nanoGPT-style token shards (train.bin / val.bin / manifest.json), pretrains a
Hugging Face ``GPT2LMHeadModel`` from a config preset, and evaluates perplexity. It knows
nothing about how the shards were cleaned: the shard layout is the whole interface.
"""

__all__ = ["TrainerError"]

from trainer.errors import TrainerError
