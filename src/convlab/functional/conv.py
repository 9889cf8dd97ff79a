"""See convlab.functional (conv part)."""

__all__: list[str] = []
