"""Switchyard connectors service."""
