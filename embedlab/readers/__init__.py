"""Readers behind ``embedlab.documents``, one module per concern: sniffing, formats, tables, zips, eval sets."""
