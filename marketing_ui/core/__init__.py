"""Domain core: plain functions over a DB session; imports no Reflex so workers can use it."""
