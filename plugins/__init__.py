"""phasebench's built-in plugins.

Each subpackage is an ordinary plugin, declared as an entry point of the ``phasebench``
distribution in ``pyproject.toml`` exactly as a third-party package declares its own. Its
``__init__`` only registers lazy ``"module:attr"`` references, so listing components never
imports torch.
"""
