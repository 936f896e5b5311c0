"""Switchyard edge service."""
