"""Blocks that do network I/O: LLM calls and HTTP requests.

They are instances built with their configuration (``llm_blocks(LLMConfig)``,
``http_blocks(HttpPolicy)``) and added to the ``BlockRegistry`` by the
composition root, next to the pure library of ``domain.blocks``.
"""
