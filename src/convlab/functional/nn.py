"""See convlab.functional (nn part)."""

__all__: list[str] = []
