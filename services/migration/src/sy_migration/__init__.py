"""Switchyard migration service."""
