"""The schedules read model: users' schedules as AutoGPT lists them (``GraphExecutionJobInfo``)."""
