# pytester runs pytest inside a test: tests/test_pytest_plugin.py checks kwire's pytest plugin with it.
pytest_plugins = ["pytester"]
