"""Switchyard routing service."""
