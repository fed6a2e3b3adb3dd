"""The benchmarks that need the real parts use the test suite's session fixtures."""

from tests.conftest import pytest_plugins  # noqa: F401
