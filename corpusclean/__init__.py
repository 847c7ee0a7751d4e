"""corpusclean: streaming Arrow/Polars cleaning of LLM pre-training corpora."""

__version__ = "0.1.0"
