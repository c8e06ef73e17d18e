"""Forest, funnel and diagnostic plots (matplotlib, imported only when drawing)."""
