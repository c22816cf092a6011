"""Shipped content templates; `email/*.mjml` is the library listed by core.rendering."""
