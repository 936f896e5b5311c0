"""Switchyard journal service."""
