"""Shared fixtures. Each real part (Docker engine + registry, Secret Service, provider
servers) is started once per session by its module in tests/support/."""

pytest_plugins = [
    "tests.support.engine",
    "tests.support.hfhub",
    "tests.support.authregistry",
    "tests.support.keychain",
    "tests.support.providers",
    "tests.support.sbcli_server",
    "tests.support.workspace",
]
