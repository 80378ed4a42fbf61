"""Triggers for Dialogflow CX: async polling of long-running operations in the triggerer."""
