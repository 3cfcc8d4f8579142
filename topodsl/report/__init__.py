"""Reports: turn solver results into text tables and JSON-ready dicts. No solving here."""
