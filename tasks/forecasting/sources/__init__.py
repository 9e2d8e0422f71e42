"""Where series come from. Every source lands in one long layout, so everything downstream is source-blind."""
