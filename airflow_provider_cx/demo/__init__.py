"""A real local Airflow for the demo and the end-to-end tests: a process launcher and a REST client.

``stack.AirflowStack`` starts scheduler, dag-processor, triggerer and API server; ``api.AirflowAPIClient``
triggers runs, waits for them, reads task states and answers Human-in-the-loop steps.
"""
