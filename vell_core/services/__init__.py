"""Services: one per feature, built by ``vell_core.app`` and called by pages."""
