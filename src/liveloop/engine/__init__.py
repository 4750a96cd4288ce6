"""The pure core: campaign state + event + now -> effects. No I/O, no framework imports."""
