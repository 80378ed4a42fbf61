"""Hooks for Dialogflow CX: credentials, endpoints, clients, retries and long-running operations.

Kept empty on purpose: importing this package must not import grpc (see ``airflow_provider_cx``).
Import the hook from ``airflow_provider_cx.hooks.dialogflow_cx``.
"""
