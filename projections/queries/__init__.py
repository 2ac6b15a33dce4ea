"""The read side's queries: one module per context builds every shape the API answers.

``graphs`` and ``executions`` read their read models (never the event
store) and return the pydantic models in ``graph_models`` and
``execution_models``, which are AutoGPT's wire shapes; command routes build
their answers with the same builders, so no JSON shape is written twice.
"""
