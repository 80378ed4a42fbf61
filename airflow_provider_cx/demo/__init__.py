"""The demo (``python -m airflow_provider_cx.demo``) and what it and the end-to-end tests stand on.

- ``stack.AirflowStack``: a real local Airflow (scheduler, dag-processor, triggerer, API server);
- ``api.AirflowAPIClient``: triggers runs, waits for them, reads task states and XComs, answers HITL steps;
- ``emulator_process.EmulatorProcess``: the CX emulator as a process of its own (``cx-emulator``);
- ``agents``: dev, staging and prod agents made from the sample agent, and the pipeline config naming them.
"""
