"""Repository-wide pytest settings: notebook cells collected by nbval count as slow tests."""
from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items):
    for item in items:
        if str(item.fspath).endswith(".ipynb"):
            item.add_marker(pytest.mark.slow)
