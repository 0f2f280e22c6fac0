"""The frameworks' adapter tests run pytest in a subprocess (pytester)."""

pytest_plugins = ["pytester"]
