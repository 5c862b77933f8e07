"""Operator commands (`python -m keyless_admin`): invite, sign-out, unlock and status of a user of a
pool that runs Keyless, deployed (a stack or a pool id: aws) or local (`make dev`: local). The
commands (commands) reuse the layer's code; this package is not part of the layer: the functions
never load it."""
