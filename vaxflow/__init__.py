"""vaxflow: check-in kiosk and queue software for mass vaccination sites."""

__version__ = "0.1.0"
