"""Markets: the catalogue of countries, their holiday calendars, live-session scheduling and policy."""
