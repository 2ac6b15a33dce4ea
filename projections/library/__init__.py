"""The library read side: ``read.library_agents`` and ``read.library_presets``."""
