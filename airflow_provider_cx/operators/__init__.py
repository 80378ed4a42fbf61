"""Airflow operators for Dialogflow CX, one per module; shared pieces in :mod:`.base` and :mod:`.errors`.

Operators call :class:`~airflow_provider_cx.hooks.dialogflow_cx.DialogflowCXHook` methods only.

Import operators from their modules (``airflow_provider_cx.operators.export_agent``); this package
imports nothing so that DAG parsing stays cheap.
"""
