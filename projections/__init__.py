"""Event -> read-model logic, independent of transport."""
