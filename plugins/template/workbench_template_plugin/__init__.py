"""Template fusion plugin (copy me). Keep this file light: no heavy imports here."""
