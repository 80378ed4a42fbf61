"""What the operators report, as pure functions: test case outcomes, validation findings, utterance
tables and threshold checks, rendered as JUnit, Markdown or JSON-ready rows.

No Airflow, no network: the operators call these with what the hook returned. The package imports
nothing, so that DAG parsing stays cheap; import the modules themselves.
"""
