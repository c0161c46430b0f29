"""Test helpers shared by the unit, integration and scenario suites."""
