"""The benchmarks that need the real parts use the test suite's session fixtures."""

pytest_plugins = [
    "tests.support.engine",
    "tests.support.keychain",
    "tests.support.providers",
    "tests.support.workspace",
]
