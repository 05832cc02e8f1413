"""Views: pure shaping of service results for pages (tables, charts, text, CSV)."""
