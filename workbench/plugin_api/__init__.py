"""plugin_api."""
