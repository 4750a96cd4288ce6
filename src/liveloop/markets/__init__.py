"""Markets: the catalogue of countries, their holiday calendars and live-session scheduling."""
