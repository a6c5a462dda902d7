"""Devices behind small async interfaces; the only place that imports device libraries."""
