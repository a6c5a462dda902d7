"""Drivers of a demo site: simulated people over the real API, and seeded demo bookings."""
