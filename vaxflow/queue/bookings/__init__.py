"""Where bookings come from: the imported day list, signed QR codes, a booking service."""
