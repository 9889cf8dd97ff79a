"""See convlab.functional (pool part)."""

__all__: list[str] = []
